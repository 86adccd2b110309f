-- The trigger's grouped insert (src/storage/alerts/postgres.rs) is one
-- statement outside an explicit transaction. When one of its (user,
-- breach) pairs was stored by a transaction that committed while the
-- statement waited for the user's lock, the statement can neither insert
-- that pair nor see it (its snapshot is older); it calls this to abort
-- itself, so nothing of the group stays, and runs again.
CREATE FUNCTION alerthub_insert_raced() RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'a pair of the group was stored concurrently; the group runs again'
        USING ERRCODE = 'serialization_failure';
END
$$;

DROP FUNCTION alerthub_insert_raced();

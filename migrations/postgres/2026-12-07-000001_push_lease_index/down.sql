DROP INDEX alerts_push_lease;

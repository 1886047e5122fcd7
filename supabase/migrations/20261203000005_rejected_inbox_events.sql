BEGIN;

-- Running upgrade 0014 -> 0015

ALTER TABLE inbound_events ADD COLUMN rejected_at TIMESTAMP WITH TIME ZONE;

UPDATE alembic_version SET version_num='0015' WHERE alembic_version.version_num = '0014';

COMMIT;


BEGIN;

-- Running upgrade 0002 -> 0003

ALTER TABLE vendors ADD COLUMN reminder_repeat_every TEXT;

ALTER TABLE vendors ADD COLUMN reminder_repeat_count INTEGER DEFAULT 0 NOT NULL;

UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002';

COMMIT;


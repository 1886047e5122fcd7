BEGIN;

-- Running upgrade 0004 -> 0005

ALTER TABLE commandes ADD COLUMN reminders_enabled BOOLEAN DEFAULT true NOT NULL;

UPDATE alembic_version SET version_num='0005' WHERE alembic_version.version_num = '0004';

COMMIT;


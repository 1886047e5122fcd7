BEGIN;

-- Running upgrade 0001 -> 0002

ALTER TABLE vendors ADD COLUMN message_overrides JSONB DEFAULT '{}' NOT NULL;

ALTER TABLE vendor_admins ADD COLUMN last_inbound_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE outbox_messages ADD COLUMN send_mode VARCHAR(16) DEFAULT 'auto' NOT NULL;

ALTER TABLE inbound_events ADD COLUMN locked_until TIMESTAMP WITH TIME ZONE;

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';

COMMIT;


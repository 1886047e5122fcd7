BEGIN;

-- Running upgrade 0012 -> 0013

ALTER TABLE customers ALTER COLUMN phone DROP NOT NULL;

ALTER TABLE outbox_messages ALTER COLUMN to_phone TYPE VARCHAR(64);

ALTER TABLE customers ADD COLUMN channel VARCHAR(16) DEFAULT 'whatsapp' NOT NULL;

ALTER TABLE customers ADD COLUMN address VARCHAR(64);

ALTER TABLE customers ADD COLUMN handle VARCHAR(64);

ALTER TABLE customers ADD COLUMN channel_inbound_at TIMESTAMP WITH TIME ZONE;

CREATE UNIQUE INDEX uq_customers_vendor_id_channel_address ON customers (vendor_id, channel, address);

ALTER TABLE outbox_messages ADD COLUMN channel VARCHAR(16) DEFAULT 'whatsapp' NOT NULL;

UPDATE alembic_version SET version_num='0013' WHERE alembic_version.version_num = '0012';

COMMIT;


BEGIN;

-- Running upgrade 0013 -> 0014

ALTER TABLE conversations ADD COLUMN subject VARCHAR(40) DEFAULT '' NOT NULL;

ALTER TABLE conversations ADD COLUMN version INTEGER DEFAULT 0 NOT NULL;

ALTER TABLE conversations DROP CONSTRAINT uq_conversations_vendor_id_phone;

ALTER TABLE conversations ADD CONSTRAINT uq_conversations_vendor_id_phone_flow_subject UNIQUE (vendor_id, phone, flow, subject);

ALTER TABLE outbox_messages ADD COLUMN coalesced_into BIGINT;

CREATE TABLE send_pacing (
    key VARCHAR(200) NOT NULL, 
    tokens FLOAT DEFAULT 0 NOT NULL, 
    stamp TIMESTAMP WITH TIME ZONE, 
    next_slot_at TIMESTAMP WITH TIME ZONE, 
    paused_until TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_send_pacing PRIMARY KEY (key)
);

ALTER TABLE send_pacing ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION notify_vendor_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_TABLE_NAME = 'vendors' THEN PERFORM pg_notify('vendor_changed', COALESCE(NEW.id, OLD.id)::text); ELSE PERFORM pg_notify('vendor_changed', COALESCE(NEW.vendor_id, OLD.vendor_id)::text); END IF; RETURN NULL; END $$;

CREATE TRIGGER vendors_changed AFTER UPDATE ON vendors FOR EACH ROW WHEN (to_jsonb(OLD) - 'last_order_number' - 'updated_at' IS DISTINCT FROM to_jsonb(NEW) - 'last_order_number' - 'updated_at') EXECUTE FUNCTION notify_vendor_changed();

CREATE TRIGGER payment_settings_changed AFTER INSERT OR UPDATE OR DELETE ON payment_settings FOR EACH ROW EXECUTE FUNCTION notify_vendor_changed();

UPDATE alembic_version SET version_num='0014' WHERE alembic_version.version_num = '0013';

COMMIT;


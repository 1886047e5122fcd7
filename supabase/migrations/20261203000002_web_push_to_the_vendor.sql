BEGIN;

-- Running upgrade 0011 -> 0012

CREATE TABLE web_push_keys (
    id INTEGER NOT NULL, 
    public_key VARCHAR(100) NOT NULL, 
    sealed_private_key TEXT NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_web_push_keys PRIMARY KEY (id), 
    CONSTRAINT web_push_keys_single CHECK (id = 1)
);

CREATE TABLE push_subscriptions (
    id UUID NOT NULL, 
    admin_id UUID NOT NULL, 
    endpoint VARCHAR(2048) NOT NULL, 
    p256dh VARCHAR(128) NOT NULL, 
    auth VARCHAR(64) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    last_success_at TIMESTAMP WITH TIME ZONE, 
    last_failure_at TIMESTAMP WITH TIME ZONE, 
    last_error TEXT, 
    CONSTRAINT pk_push_subscriptions PRIMARY KEY (id), 
    CONSTRAINT fk_push_subscriptions_admin_id_vendor_admins FOREIGN KEY(admin_id) REFERENCES vendor_admins (id) ON DELETE CASCADE, 
    CONSTRAINT uq_push_subscriptions_endpoint UNIQUE (endpoint)
);

CREATE INDEX ix_push_subscriptions_admin_id ON push_subscriptions (admin_id);

CREATE TABLE push_preferences (
    admin_id UUID NOT NULL, 
    kind VARCHAR(32) NOT NULL, 
    enabled BOOLEAN NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_push_preferences PRIMARY KEY (admin_id, kind), 
    CONSTRAINT push_preferences_kind CHECK (kind IN ('payment_received', 'guarantee', 'request_failed', 'customer_message')), 
    CONSTRAINT fk_push_preferences_admin_id_vendor_admins FOREIGN KEY(admin_id) REFERENCES vendor_admins (id) ON DELETE CASCADE
);

CREATE TABLE push_outbox (
    id BIGSERIAL NOT NULL, 
    vendor_id UUID NOT NULL, 
    subscription_id UUID NOT NULL, 
    kind VARCHAR(32) NOT NULL, 
    payload JSONB NOT NULL, 
    dedupe_key VARCHAR(200) NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    attempts INTEGER DEFAULT 0 NOT NULL, 
    next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    last_error TEXT, 
    sent_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_push_outbox PRIMARY KEY (id), 
    CONSTRAINT push_outbox_status CHECK (status IN ('pending', 'sent', 'failed')), 
    CONSTRAINT fk_push_outbox_subscription_id_push_subscriptions FOREIGN KEY(subscription_id) REFERENCES push_subscriptions (id) ON DELETE CASCADE, 
    CONSTRAINT fk_push_outbox_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_push_outbox_dedupe_key UNIQUE (dedupe_key)
);

CREATE INDEX ix_push_outbox_status_next_attempt_at ON push_outbox (status, next_attempt_at);

ALTER TABLE web_push_keys ENABLE ROW LEVEL SECURITY;

ALTER TABLE push_subscriptions ENABLE ROW LEVEL SECURITY;

ALTER TABLE push_preferences ENABLE ROW LEVEL SECURITY;

ALTER TABLE push_outbox ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0012' WHERE alembic_version.version_num = '0011';

COMMIT;


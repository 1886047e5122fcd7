BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

CREATE TABLE inbound_events (
    id BIGSERIAL NOT NULL, 
    source VARCHAR(16) NOT NULL, 
    event_key VARCHAR(255) NOT NULL, 
    event_type VARCHAR(64) NOT NULL, 
    payload TEXT NOT NULL, 
    received_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    processed_at TIMESTAMP WITH TIME ZONE, 
    attempts INTEGER DEFAULT 0 NOT NULL, 
    last_error TEXT, 
    CONSTRAINT pk_inbound_events PRIMARY KEY (id), 
    CONSTRAINT uq_inbound_events_source_event_key UNIQUE (source, event_key)
);

CREATE INDEX ix_inbound_events_processed_at ON inbound_events (processed_at);

CREATE TABLE vendors (
    id UUID NOT NULL, 
    name TEXT NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    locale VARCHAR(8) NOT NULL, 
    timezone VARCHAR(64) NOT NULL, 
    phone_number_id VARCHAR(64), 
    last_order_number INTEGER DEFAULT 0 NOT NULL, 
    reminder_schedule TEXT NOT NULL, 
    reminder_quiet_hours TEXT, 
    reminders_enabled BOOLEAN DEFAULT true NOT NULL, 
    whatsapp_templates JSONB NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_vendors PRIMARY KEY (id), 
    CONSTRAINT uq_vendors_phone_number_id UNIQUE (phone_number_id)
);

CREATE TABLE conversations (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    phone VARCHAR(20) NOT NULL, 
    flow VARCHAR(40) NOT NULL, 
    state JSONB NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_conversations PRIMARY KEY (id), 
    CONSTRAINT fk_conversations_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_conversations_vendor_id_phone UNIQUE (vendor_id, phone)
);

CREATE TABLE customers (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    phone VARCHAR(20) NOT NULL, 
    name TEXT, 
    locale VARCHAR(8), 
    provider_client_id VARCHAR(64), 
    opted_out BOOLEAN DEFAULT false NOT NULL, 
    last_inbound_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_customers PRIMARY KEY (id), 
    CONSTRAINT fk_customers_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_customers_vendor_id_phone UNIQUE (vendor_id, phone)
);

CREATE TABLE payment_links (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    provider VARCHAR(16) NOT NULL, 
    provider_link_id VARCHAR(255) NOT NULL, 
    url TEXT NOT NULL, 
    amount NUMERIC(10, 2) NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    active BOOLEAN DEFAULT true NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_payment_links PRIMARY KEY (id), 
    CONSTRAINT fk_payment_links_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_payment_links_provider_provider_link_id UNIQUE (provider, provider_link_id)
);

CREATE TABLE payment_settings (
    vendor_id UUID NOT NULL, 
    provider VARCHAR(16) NOT NULL, 
    credentials TEXT, 
    deposit_mode VARCHAR(16) NOT NULL, 
    deposit_percent NUMERIC(5, 2) NOT NULL, 
    deposit_fixed NUMERIC(10, 2), 
    confirmation_rule VARCHAR(16) NOT NULL, 
    hold_minutes INTEGER NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_payment_settings PRIMARY KEY (vendor_id), 
    CONSTRAINT payment_settings_confirmation_rule CHECK (confirmation_rule IN ('immediate', 'paid_only')), 
    CONSTRAINT payment_settings_deposit_mode CHECK (deposit_mode IN ('none', 'full', 'fixed', 'percent')), 
    CONSTRAINT payment_settings_provider CHECK (provider IN ('stripe', 'icount', 'sandbox')), 
    CONSTRAINT payment_settings_deposit_percent CHECK (deposit_percent > 0 AND deposit_percent <= 100), 
    CONSTRAINT fk_payment_settings_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE
);

CREATE TABLE vendor_admins (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    phone VARCHAR(20) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_vendor_admins PRIMARY KEY (id), 
    CONSTRAINT fk_vendor_admins_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_vendor_admins_vendor_id_phone UNIQUE (vendor_id, phone)
);

CREATE INDEX ix_vendor_admins_phone ON vendor_admins (phone);

CREATE TABLE commandes (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    number INTEGER NOT NULL, 
    customer_id UUID NOT NULL, 
    user_id UUID, 
    label TEXT DEFAULT '' NOT NULL, 
    price NUMERIC(10, 2), 
    currency VARCHAR(3) NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    payment_type VARCHAR(20), 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_commandes PRIMARY KEY (id), 
    CONSTRAINT check_payment_logic CHECK ((status = 'paid' AND payment_type IS NOT NULL) OR status <> 'paid'), 
    CONSTRAINT commandes_status CHECK (status IN ('pending', 'accepted', 'paid', 'in_delivery', 'completed', 'cancelled')), 
    CONSTRAINT commandes_price CHECK (price IS NULL OR price >= 0), 
    CONSTRAINT fk_commandes_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id), 
    CONSTRAINT fk_commandes_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_commandes_vendor_id_number UNIQUE (vendor_id, number)
);

CREATE INDEX ix_commandes_vendor_id_status ON commandes (vendor_id, status);

CREATE TYPE payment_transaction_type AS ENUM ('acompte', 'solde', 'partiel', 'total');

CREATE TYPE payment_transaction_status AS ENUM ('pending', 'paid', 'failed', 'cancelled', 'expired', 'refunded');

CREATE TABLE payment_transactions (
    id UUID NOT NULL, 
    commande_id UUID NOT NULL, 
    user_id UUID, 
    montant NUMERIC(10, 2) NOT NULL, 
    devise VARCHAR(3) DEFAULT 'EUR' NOT NULL, 
    type payment_transaction_type NOT NULL, 
    label TEXT NOT NULL, 
    payment_method VARCHAR(50), 
    payment_link_id UUID, 
    status payment_transaction_status DEFAULT 'pending' NOT NULL, 
    paid_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    vendor_id UUID NOT NULL, 
    provider VARCHAR(16), 
    provider_reference VARCHAR(255), 
    is_guarantee BOOLEAN DEFAULT false NOT NULL, 
    failure_reason TEXT, 
    CONSTRAINT pk_payment_transactions PRIMARY KEY (id), 
    CONSTRAINT payment_transactions_montant CHECK (montant > 0), 
    CONSTRAINT fk_payment_transactions_commande_id_commandes FOREIGN KEY(commande_id) REFERENCES commandes (id), 
    CONSTRAINT fk_payment_transactions_payment_link_id_payment_links FOREIGN KEY(payment_link_id) REFERENCES payment_links (id), 
    CONSTRAINT fk_payment_transactions_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE
);

CREATE INDEX ix_payment_transactions_commande_id ON payment_transactions (commande_id);

CREATE INDEX ix_payment_transactions_vendor_id_status ON payment_transactions (vendor_id, status);

CREATE TABLE outbox_messages (
    id BIGSERIAL NOT NULL, 
    vendor_id UUID NOT NULL, 
    customer_id UUID, 
    to_phone VARCHAR(20) NOT NULL, 
    kind VARCHAR(40) NOT NULL, 
    locale VARCHAR(8) NOT NULL, 
    payload JSONB NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    attempts INTEGER DEFAULT 0 NOT NULL, 
    next_attempt_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    wamid VARCHAR(128), 
    last_error TEXT, 
    transaction_id UUID, 
    dedupe_key VARCHAR(200), 
    sent_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_outbox_messages PRIMARY KEY (id), 
    CONSTRAINT outbox_messages_status CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled')), 
    CONSTRAINT fk_outbox_messages_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id), 
    CONSTRAINT fk_outbox_messages_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT fk_outbox_messages_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_outbox_messages_dedupe_key UNIQUE (dedupe_key), 
    CONSTRAINT uq_outbox_messages_wamid UNIQUE (wamid)
);

CREATE INDEX ix_outbox_messages_status_next_attempt_at ON outbox_messages (status, next_attempt_at);

CREATE TABLE reminders (
    id BIGSERIAL NOT NULL, 
    vendor_id UUID NOT NULL, 
    transaction_id UUID NOT NULL, 
    sequence INTEGER NOT NULL, 
    due_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    sent_at TIMESTAMP WITH TIME ZONE, 
    outbox_message_id BIGINT, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_reminders PRIMARY KEY (id), 
    CONSTRAINT reminders_status CHECK (status IN ('pending', 'sent', 'cancelled', 'skipped')), 
    CONSTRAINT fk_reminders_outbox_message_id_outbox_messages FOREIGN KEY(outbox_message_id) REFERENCES outbox_messages (id), 
    CONSTRAINT fk_reminders_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT fk_reminders_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_reminders_transaction_id_sequence UNIQUE (transaction_id, sequence)
);

CREATE INDEX ix_reminders_status_due_at ON reminders (status, due_at);

ALTER TABLE vendors ENABLE ROW LEVEL SECURITY;

ALTER TABLE vendor_admins ENABLE ROW LEVEL SECURITY;

ALTER TABLE payment_settings ENABLE ROW LEVEL SECURITY;

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;

ALTER TABLE commandes ENABLE ROW LEVEL SECURITY;

ALTER TABLE payment_links ENABLE ROW LEVEL SECURITY;

ALTER TABLE payment_transactions ENABLE ROW LEVEL SECURITY;

ALTER TABLE inbound_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE outbox_messages ENABLE ROW LEVEL SECURITY;

ALTER TABLE reminders ENABLE ROW LEVEL SECURITY;

ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;

ALTER TABLE alembic_version ENABLE ROW LEVEL SECURITY;

INSERT INTO alembic_version (version_num) VALUES ('0001') RETURNING alembic_version.version_num;

COMMIT;


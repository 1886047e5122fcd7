BEGIN;

-- Running upgrade 0007 -> 0008

ALTER TYPE payment_transaction_status ADD VALUE IF NOT EXISTS 'held';

ALTER TYPE payment_transaction_status ADD VALUE IF NOT EXISTS 'captured';

ALTER TYPE payment_transaction_status ADD VALUE IF NOT EXISTS 'released';

CREATE TABLE card_tokens (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    customer_id UUID NOT NULL, 
    provider VARCHAR(16) NOT NULL, 
    token VARCHAR(255) NOT NULL, 
    provider_customer_id VARCHAR(255), 
    brand VARCHAR(32), 
    last4 VARCHAR(4), 
    exp_month INTEGER, 
    exp_year INTEGER, 
    consent_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    consent_source VARCHAR(16) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    forgotten_at TIMESTAMP WITH TIME ZONE, 
    deleted_at_provider TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_card_tokens PRIMARY KEY (id), 
    CONSTRAINT card_tokens_consent_source CHECK (consent_source IN ('checkout', 'phone', 'guarantee')), 
    CONSTRAINT card_tokens_last4 CHECK (last4 IS NULL OR length(last4) = 4), 
    CONSTRAINT fk_card_tokens_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id), 
    CONSTRAINT fk_card_tokens_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_card_tokens_vendor_id_provider_token UNIQUE (vendor_id, provider, token)
);

CREATE INDEX ix_card_tokens_customer_id ON card_tokens (customer_id);

ALTER TABLE payment_transactions ADD COLUMN held_amount NUMERIC(10, 2);

ALTER TABLE payment_transactions ADD COLUMN captured_amount NUMERIC(10, 2);

ALTER TABLE payment_transactions ADD COLUMN hold_lapses_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE payment_transactions ADD COLUMN release_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE payment_transactions ADD COLUMN lapse_warned_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE payment_transactions ADD COLUMN card_on_file BOOLEAN DEFAULT false NOT NULL;

ALTER TABLE payment_transactions ADD COLUMN guarantee_id UUID;

ALTER TABLE payment_transactions ADD COLUMN card_token_id UUID;

ALTER TABLE payment_transactions ADD CONSTRAINT fk_payment_transactions_guarantee_id_payment_transactions FOREIGN KEY(guarantee_id) REFERENCES payment_transactions (id);

ALTER TABLE payment_transactions ADD CONSTRAINT fk_payment_transactions_card_token_id_card_tokens FOREIGN KEY(card_token_id) REFERENCES card_tokens (id);

ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_captured_amount CHECK (captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= held_amount));

CREATE INDEX ix_payment_transactions_is_guarantee_status ON payment_transactions (is_guarantee, status);

CREATE TABLE phone_links (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    transaction_id UUID NOT NULL, 
    token_hash VARCHAR(64) NOT NULL, 
    save_card BOOLEAN DEFAULT false NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    used_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_phone_links PRIMARY KEY (id), 
    CONSTRAINT fk_phone_links_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT fk_phone_links_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_phone_links_token_hash UNIQUE (token_hash)
);

ALTER TABLE payment_settings ADD COLUMN guarantee_mode VARCHAR(16) DEFAULT 'off' NOT NULL;

ALTER TABLE payment_settings ADD COLUMN guarantee_fixed NUMERIC(10, 2);

ALTER TABLE payment_settings ADD COLUMN guarantee_percent NUMERIC(5, 2) DEFAULT 100 NOT NULL;

ALTER TABLE payment_settings ADD COLUMN guarantee_release_days INTEGER DEFAULT 7 NOT NULL;

ALTER TABLE payment_settings ADD COLUMN saved_cards BOOLEAN DEFAULT false NOT NULL;

ALTER TABLE payment_settings ADD CONSTRAINT payment_settings_guarantee_mode CHECK (guarantee_mode IN ('off', 'optional', 'required'));

ALTER TABLE payment_settings ADD CONSTRAINT payment_settings_guarantee_release_days CHECK (guarantee_release_days >= 1 AND guarantee_release_days <= 30);

ALTER TABLE card_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE phone_links ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0008' WHERE alembic_version.version_num = '0007';

COMMIT;


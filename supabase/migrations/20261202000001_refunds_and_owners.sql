BEGIN;

-- Running upgrade 0006 -> 0007

ALTER TYPE payment_transaction_status ADD VALUE IF NOT EXISTS 'partially_refunded' BEFORE 'refunded';

ALTER TABLE payment_transactions ADD COLUMN refunded_amount NUMERIC(10, 2) DEFAULT '0' NOT NULL;

ALTER TABLE payment_transactions ADD CONSTRAINT payment_transactions_refunded_amount CHECK (refunded_amount >= 0 AND refunded_amount <= montant);

CREATE TABLE refunds (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    transaction_id UUID NOT NULL, 
    amount NUMERIC(10, 2) NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    provider VARCHAR(16), 
    provider_reference VARCHAR(255), 
    requested_by VARCHAR(64) NOT NULL, 
    failure_reason TEXT, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_refunds PRIMARY KEY (id), 
    CONSTRAINT refunds_amount CHECK (amount > 0), 
    CONSTRAINT refunds_status CHECK (status IN ('pending', 'succeeded', 'failed', 'unknown')), 
    CONSTRAINT fk_refunds_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT fk_refunds_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE
);

CREATE INDEX ix_refunds_transaction_id ON refunds (transaction_id);

CREATE INDEX ix_refunds_status ON refunds (status);

ALTER TABLE vendors ADD COLUMN owner_user_id UUID;

ALTER TABLE payment_settings ADD COLUMN request_on_accept BOOLEAN DEFAULT false NOT NULL;

ALTER TABLE refunds ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0007' WHERE alembic_version.version_num = '0006';

COMMIT;


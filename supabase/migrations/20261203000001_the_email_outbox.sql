BEGIN;

-- Running upgrade 0010 -> 0011

CREATE TABLE email_outbox (
    id BIGSERIAL NOT NULL, 
    vendor_id UUID NOT NULL, 
    customer_id UUID NOT NULL, 
    transaction_id UUID NOT NULL, 
    kind VARCHAR(40) NOT NULL, 
    to_address VARCHAR(254) NOT NULL, 
    locale VARCHAR(8) NOT NULL, 
    subject TEXT NOT NULL, 
    text_body TEXT NOT NULL, 
    html_body TEXT NOT NULL, 
    payload JSONB NOT NULL, 
    status VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    attempts INTEGER DEFAULT 0 NOT NULL, 
    next_attempt_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    lease_until TIMESTAMP WITH TIME ZONE, 
    message_id VARCHAR(255), 
    last_error TEXT, 
    sent_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_email_outbox PRIMARY KEY (id), 
    CONSTRAINT email_outbox_status CHECK (status IN ('pending', 'sending', 'sent', 'failed')), 
    CONSTRAINT fk_email_outbox_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT fk_email_outbox_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id), 
    CONSTRAINT fk_email_outbox_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT uq_email_outbox_kind_transaction_id UNIQUE (kind, transaction_id)
);

CREATE INDEX ix_email_outbox_status_next_attempt_at ON email_outbox (status, next_attempt_at);

ALTER TABLE email_outbox ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0011' WHERE alembic_version.version_num = '0010';

COMMIT;


BEGIN;

-- Running upgrade 0003 -> 0004

ALTER TABLE payment_settings ADD COLUMN invoice_doctype VARCHAR(16) DEFAULT 'invrec' NOT NULL;

ALTER TABLE payment_settings ADD CONSTRAINT payment_settings_invoice_doctype CHECK (invoice_doctype IN ('invrec', 'receipt'));

CREATE TABLE invoices (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    transaction_id UUID NOT NULL, 
    provider VARCHAR(16) NOT NULL, 
    doctype VARCHAR(16) NOT NULL, 
    docnum VARCHAR(64) NOT NULL, 
    url TEXT, 
    amount NUMERIC(10, 2) NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    status VARCHAR(16) DEFAULT 'issued' NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    CONSTRAINT pk_invoices PRIMARY KEY (id), 
    CONSTRAINT invoices_status CHECK (status IN ('issued', 'cancelled')), 
    CONSTRAINT fk_invoices_transaction_id_payment_transactions FOREIGN KEY(transaction_id) REFERENCES payment_transactions (id), 
    CONSTRAINT fk_invoices_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_invoices_transaction_id UNIQUE (transaction_id), 
    CONSTRAINT uq_invoices_provider_doctype_docnum UNIQUE (provider, doctype, docnum)
);

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0004' WHERE alembic_version.version_num = '0003';

COMMIT;


BEGIN;

-- Running upgrade 0009 -> 0010

CREATE TABLE products (
    id UUID NOT NULL, 
    vendor_id UUID NOT NULL, 
    sku VARCHAR(64) NOT NULL, 
    name TEXT NOT NULL, 
    description TEXT, 
    unit_price NUMERIC(10, 2) NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    vat_included BOOLEAN DEFAULT true NOT NULL, 
    active BOOLEAN DEFAULT true NOT NULL, 
    icount_item_id VARCHAR(64), 
    stripe_product_id VARCHAR(255), 
    stripe_price_id VARCHAR(255), 
    sync_state VARCHAR(16) DEFAULT 'pending' NOT NULL, 
    sync_error TEXT, 
    sync_attempts INTEGER DEFAULT 0 NOT NULL, 
    next_sync_at TIMESTAMP WITH TIME ZONE, 
    synced_at TIMESTAMP WITH TIME ZONE, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_products PRIMARY KEY (id), 
    CONSTRAINT products_unit_price CHECK (unit_price >= 0), 
    CONSTRAINT products_sync_state CHECK (sync_state IN ('pending', 'synced', 'failed')), 
    CONSTRAINT fk_products_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_products_vendor_id_sku UNIQUE (vendor_id, sku)
);

CREATE INDEX ix_products_sync_state_next_sync_at ON products (sync_state, next_sync_at);

CREATE TABLE order_lines (
    id UUID NOT NULL, 
    commande_id UUID NOT NULL, 
    product_id UUID NOT NULL, 
    position INTEGER NOT NULL, 
    sku VARCHAR(64) NOT NULL, 
    name TEXT NOT NULL, 
    quantity INTEGER NOT NULL, 
    unit_price NUMERIC(10, 2) NOT NULL, 
    currency VARCHAR(3) NOT NULL, 
    vat_included BOOLEAN NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_order_lines PRIMARY KEY (id), 
    CONSTRAINT order_lines_quantity CHECK (quantity > 0), 
    CONSTRAINT order_lines_unit_price CHECK (unit_price >= 0), 
    CONSTRAINT fk_order_lines_commande_id_commandes FOREIGN KEY(commande_id) REFERENCES commandes (id) ON DELETE CASCADE, 
    CONSTRAINT fk_order_lines_product_id_products FOREIGN KEY(product_id) REFERENCES products (id), 
    CONSTRAINT uq_order_lines_commande_id_position UNIQUE (commande_id, position)
);

CREATE INDEX ix_order_lines_commande_id ON order_lines (commande_id);

ALTER TABLE customers ADD COLUMN email VARCHAR(254);

ALTER TABLE customers ADD COLUMN client_sync_state VARCHAR(16);

ALTER TABLE customers ADD COLUMN client_sync_error TEXT;

ALTER TABLE customers ADD COLUMN client_synced_at TIMESTAMP WITH TIME ZONE;

CREATE INDEX ix_payment_transactions_vendor_id_paid_at ON payment_transactions (vendor_id, paid_at);

ALTER TABLE products ENABLE ROW LEVEL SECURITY;

ALTER TABLE order_lines ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0010' WHERE alembic_version.version_num = '0009';

COMMIT;


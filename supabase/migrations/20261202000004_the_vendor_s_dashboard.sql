BEGIN;

-- Running upgrade 0008 -> 0009

CREATE TABLE admin_codes (
    id UUID NOT NULL, 
    phone VARCHAR(20) NOT NULL, 
    kind VARCHAR(8) NOT NULL, 
    secret_hash VARCHAR(128) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    used_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_admin_codes PRIMARY KEY (id), 
    CONSTRAINT admin_codes_kind CHECK (kind IN ('code', 'link'))
);

CREATE INDEX ix_admin_codes_phone ON admin_codes (phone);

CREATE TABLE admin_lockouts (
    phone VARCHAR(20) NOT NULL, 
    failures INTEGER DEFAULT 0 NOT NULL, 
    locked_until TIMESTAMP WITH TIME ZONE, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_admin_lockouts PRIMARY KEY (phone)
);

CREATE TABLE admin_sessions (
    id UUID NOT NULL, 
    token_hash VARCHAR(64) NOT NULL, 
    phone VARCHAR(20) NOT NULL, 
    vendor_id UUID, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    last_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    revoked_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_admin_sessions PRIMARY KEY (id), 
    CONSTRAINT fk_admin_sessions_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE, 
    CONSTRAINT uq_admin_sessions_token_hash UNIQUE (token_hash)
);

CREATE INDEX ix_admin_sessions_phone ON admin_sessions (phone);

CREATE TABLE audit_log (
    id BIGSERIAL NOT NULL, 
    vendor_id UUID NOT NULL, 
    actor VARCHAR(64) NOT NULL, 
    setting VARCHAR(128) NOT NULL, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_audit_log PRIMARY KEY (id), 
    CONSTRAINT fk_audit_log_vendor_id_vendors FOREIGN KEY(vendor_id) REFERENCES vendors (id) ON DELETE CASCADE
);

CREATE INDEX ix_audit_log_vendor_id_created_at ON audit_log (vendor_id, created_at);

ALTER TABLE admin_codes ENABLE ROW LEVEL SECURITY;

ALTER TABLE admin_lockouts ENABLE ROW LEVEL SECURITY;

ALTER TABLE admin_sessions ENABLE ROW LEVEL SECURITY;

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;

UPDATE alembic_version SET version_num='0009' WHERE alembic_version.version_num = '0008';

COMMIT;


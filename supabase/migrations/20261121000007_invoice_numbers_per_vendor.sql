BEGIN;

-- Running upgrade 0005 -> 0006

ALTER TABLE invoices DROP CONSTRAINT uq_invoices_provider_doctype_docnum;

ALTER TABLE invoices ADD CONSTRAINT uq_invoices_vendor_id_provider_doctype_docnum UNIQUE (vendor_id, provider, doctype, docnum);

UPDATE alembic_version SET version_num='0006' WHERE alembic_version.version_num = '0005';

COMMIT;


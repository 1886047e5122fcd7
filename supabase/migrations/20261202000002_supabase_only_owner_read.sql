-- Supabase only (plain Postgres has no auth schema), written by hand, not generated from Alembic.
-- A signed-in vendor app reads its own vendor's rows, and nothing else: its vendor (vendors.owner_user_id,
-- set with `bot vendor set owner_user_id=<uuid>`), and that vendor's customers, payment links, reminders,
-- invoices and refunds. Orders and payment transactions are read by their user_id (the migration
-- 20261121000002). The anon key still reads nothing, and nobody writes through these policies: the bot
-- connects as the database owner (or service role), which bypasses RLS.

CREATE POLICY vendors_owner_read ON vendors
    FOR SELECT TO authenticated
    USING (owner_user_id = (SELECT auth.uid()));

CREATE POLICY customers_owner_read ON customers
    FOR SELECT TO authenticated
    USING (vendor_id IN (SELECT id FROM vendors WHERE owner_user_id = (SELECT auth.uid())));

CREATE POLICY payment_links_owner_read ON payment_links
    FOR SELECT TO authenticated
    USING (vendor_id IN (SELECT id FROM vendors WHERE owner_user_id = (SELECT auth.uid())));

CREATE POLICY reminders_owner_read ON reminders
    FOR SELECT TO authenticated
    USING (vendor_id IN (SELECT id FROM vendors WHERE owner_user_id = (SELECT auth.uid())));

CREATE POLICY invoices_owner_read ON invoices
    FOR SELECT TO authenticated
    USING (vendor_id IN (SELECT id FROM vendors WHERE owner_user_id = (SELECT auth.uid())));

CREATE POLICY refunds_owner_read ON refunds
    FOR SELECT TO authenticated
    USING (vendor_id IN (SELECT id FROM vendors WHERE owner_user_id = (SELECT auth.uid())));

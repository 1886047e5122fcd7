-- Supabase only (plain Postgres has no auth schema), written by hand, not generated from Alembic.
-- Row level security is on for every table (see the initial schema), with no policy for anon, so the
-- anon key reads nothing. These policies let a signed-in vendor app read its own orders and payments.
-- The bot connects as the database owner (or service role), which bypasses RLS.

CREATE POLICY commandes_owner_read ON commandes
    FOR SELECT TO authenticated
    USING (user_id = auth.uid());

CREATE POLICY payment_transactions_owner_read ON payment_transactions
    FOR SELECT TO authenticated
    USING (user_id = auth.uid());

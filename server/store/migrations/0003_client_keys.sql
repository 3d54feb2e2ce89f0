-- private_key_jwt client authentication (RFC 7523 section 2.2, OIDC Core section 9): a
-- client registers the public keys its assertions are signed with, inline (jwks, a JWK
-- Set) or at a URL the server fetches (jwks_uri). At most one of the two is set.
ALTER TABLE clients
    ADD COLUMN jwks     jsonb,
    ADD COLUMN jwks_uri text NOT NULL DEFAULT '',
    ADD CONSTRAINT clients_one_key_source CHECK (jwks IS NULL OR jwks_uri = '');

-- The jti of every client assertion accepted, kept until the assertion expires, so that a
-- replay is refused by whichever replica it reaches. No foreign key: the insert is on the
-- token endpoint's path, and a deleted client's rows expire within minutes.
CREATE TABLE client_assertion_jtis (
    client_id  text NOT NULL,
    jti        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at_idx ON client_assertion_jtis (expires_at);

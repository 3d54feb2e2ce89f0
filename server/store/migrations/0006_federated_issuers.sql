-- Federated issuers: token issuers whose JWTs clients may present as client assertions,
-- such as a Kubernetes cluster's ServiceAccount issuer. The server never fetches their
-- keys itself: whoever registers the issuer (the operator, from the cluster's API server,
-- or an administrator) stores its discovery document and JWKS here. The server sets
-- refresh_requested_at when a token names a kid the stored JWKS lacks (a key rotation),
-- and the next store of the JWKS at or after that time clears it.
CREATE TABLE federated_issuers (
    issuer               text PRIMARY KEY CHECK (issuer <> ''),
    discovery            jsonb,
    jwks                 jsonb NOT NULL,
    fetched_at           timestamptz NOT NULL,
    refresh_requested_at timestamptz,
    managed_by           text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- A client that authenticates with a token of a federated issuer: the token's iss must be
-- federated_issuer and its sub federated_subject (for a Kubernetes ServiceAccount,
-- system:serviceaccount:<namespace>:<name>), and, for a ServiceAccount, the uid in its
-- kubernetes.io claim must be service_account_uid (a ServiceAccount deleted and created
-- again under the same name has a new uid, and the old one's tokens are refused).
ALTER TABLE clients
    ADD COLUMN federated_issuer    text NOT NULL DEFAULT '',
    ADD COLUMN federated_subject   text NOT NULL DEFAULT '',
    ADD COLUMN service_account_uid text NOT NULL DEFAULT '',
    ADD CONSTRAINT clients_federated_subject_has_issuer
        CHECK ((federated_issuer = '') = (federated_subject = ''));

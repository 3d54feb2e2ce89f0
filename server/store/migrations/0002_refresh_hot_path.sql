-- Refresh-token writes are the server's hottest statements (every code exchange and
-- every refresh inserts one). A foreign key check on each insert takes a KEY SHARE lock on
-- the client's and the user's row, so concurrent refreshes of one client queue on that
-- row (and create MultiXacts). The store removes a client's or user's refresh tokens itself
-- (DeleteClient, DeleteUser) and checks both exist when a family starts
-- (CreateRefreshToken); rotation copies them from the row it consumes.
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_client_id_fkey;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_user_id_fkey;

-- Room on each page so that consuming a code or a refresh token (an UPDATE of unindexed
-- columns) stays a heap-only-tuple update that touches no index.
ALTER TABLE refresh_tokens SET (fillfactor = 80);
ALTER TABLE authorization_codes SET (fillfactor = 80);

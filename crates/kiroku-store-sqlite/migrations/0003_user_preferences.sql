-- kiroku schema 3: per-user preferences of the web pages (the UI language). Not patient data and
-- not history: a preference is replaced when the user changes it.
CREATE TABLE user_preferences (
    username TEXT PRIMARY KEY REFERENCES users (username),
    language TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

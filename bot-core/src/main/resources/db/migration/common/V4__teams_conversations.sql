-- Where the Teams bot is installed, learnt from authenticated activities only: team channels and chats
-- (to post approvals) and users (to open a 1:1 chat for an escalation DM).
CREATE TABLE teams_conversation (
    conversation_id    VARCHAR(300)  NOT NULL PRIMARY KEY,
    conversation_type  VARCHAR(20),
    service_url        VARCHAR(300)  NOT NULL,
    tenant_id          VARCHAR(64),
    team_id            VARCHAR(300),
    updated_at         TIMESTAMP WITH TIME ZONE NOT NULL
);

-- One row per Teams user the bot has seen: their Entra object id (people[].teams in the config), their
-- conversation-scoped id (29:…), and the bot's 1:1 chat with them once there is one.
CREATE TABLE teams_user (
    aad_object_id      VARCHAR(64)   NOT NULL PRIMARY KEY,
    user_id            VARCHAR(300)  NOT NULL,
    service_url        VARCHAR(300)  NOT NULL,
    tenant_id          VARCHAR(64),
    personal_conversation_id VARCHAR(300),
    updated_at         TIMESTAMP WITH TIME ZONE NOT NULL
);

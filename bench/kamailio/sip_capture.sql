-- Homer-style capture table for Kamailio's sipcapture module (PostgreSQL).
--
-- Columns: every column sipcapture 5.6 writes (the names are in the module's
-- insert in src/modules/sipcapture/sipcapture.c); layout and indexes follow the
-- module's sql/create_sipcapture_postgress.sql, except that msg is BYTEA: the
-- module writes it as a blob (db_postgres escapes it as bytea), and that schema's
-- VARCHAR(1500) would reject a large INVITE.
DROP TABLE IF EXISTS sip_capture;
CREATE TABLE sip_capture (
    id BIGSERIAL NOT NULL,
    date TIMESTAMP WITHOUT TIME ZONE DEFAULT '1900-01-01 00:00:01' NOT NULL,
    micro_ts BIGINT NOT NULL DEFAULT 0,
    method VARCHAR(50) NOT NULL DEFAULT '',
    reply_reason VARCHAR(100) NOT NULL DEFAULT '',
    ruri VARCHAR(200) NOT NULL DEFAULT '',
    ruri_user VARCHAR(100) NOT NULL DEFAULT '',
    ruri_domain VARCHAR(150) NOT NULL DEFAULT '',
    from_user VARCHAR(100) NOT NULL DEFAULT '',
    from_domain VARCHAR(150) NOT NULL DEFAULT '',
    from_tag VARCHAR(64) NOT NULL DEFAULT '',
    to_user VARCHAR(100) NOT NULL DEFAULT '',
    to_domain VARCHAR(150) NOT NULL DEFAULT '',
    to_tag VARCHAR(64) NOT NULL DEFAULT '',
    pid_user VARCHAR(100) NOT NULL DEFAULT '',
    contact_user VARCHAR(120) NOT NULL DEFAULT '',
    auth_user VARCHAR(120) NOT NULL DEFAULT '',
    callid VARCHAR(256) NOT NULL DEFAULT '',
    callid_aleg VARCHAR(256) NOT NULL DEFAULT '',
    via_1 VARCHAR(256) NOT NULL DEFAULT '',
    via_1_branch VARCHAR(80) NOT NULL DEFAULT '',
    cseq VARCHAR(25) NOT NULL DEFAULT '',
    diversion VARCHAR(256) NOT NULL DEFAULT '',
    reason VARCHAR(200) NOT NULL DEFAULT '',
    content_type VARCHAR(256) NOT NULL DEFAULT '',
    auth VARCHAR(256) NOT NULL DEFAULT '',
    user_agent VARCHAR(256) NOT NULL DEFAULT '',
    source_ip VARCHAR(60) NOT NULL DEFAULT '',
    source_port INTEGER NOT NULL DEFAULT 0,
    destination_ip VARCHAR(60) NOT NULL DEFAULT '',
    destination_port INTEGER NOT NULL DEFAULT 0,
    contact_ip VARCHAR(60) NOT NULL DEFAULT '',
    contact_port INTEGER NOT NULL DEFAULT 0,
    originator_ip VARCHAR(60) NOT NULL DEFAULT '',
    originator_port INTEGER NOT NULL DEFAULT 0,
    correlation_id VARCHAR(256) NOT NULL DEFAULT '',
    custom_field1 VARCHAR(120) NOT NULL DEFAULT '',
    custom_field2 VARCHAR(120) NOT NULL DEFAULT '',
    custom_field3 VARCHAR(120) NOT NULL DEFAULT '',
    proto INTEGER NOT NULL DEFAULT 0,
    family INTEGER NOT NULL DEFAULT 0,
    rtp_stat VARCHAR(256) NOT NULL DEFAULT '',
    type INTEGER NOT NULL DEFAULT 0,
    node VARCHAR(125) NOT NULL DEFAULT '',
    msg BYTEA NOT NULL,
    PRIMARY KEY (id, date)
);

CREATE INDEX sip_capture_ruri_user_idx ON sip_capture (ruri_user);
CREATE INDEX sip_capture_from_user_idx ON sip_capture (from_user);
CREATE INDEX sip_capture_to_user_idx ON sip_capture (to_user);
CREATE INDEX sip_capture_pid_user_idx ON sip_capture (pid_user);
CREATE INDEX sip_capture_auth_user_idx ON sip_capture (auth_user);
CREATE INDEX sip_capture_callid_aleg_idx ON sip_capture (callid_aleg);
CREATE INDEX sip_capture_date_idx ON sip_capture (date);
CREATE INDEX sip_capture_callid_idx ON sip_capture (callid);

--
-- PostgreSQL database dump
--

\restrict nguKf5WK3zTDdBE6pagkhdgGdm8e3eZrzUCXdARtcOQoOkqDokr8bBzEQSqPayn

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: stowaway_upgrade_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA stowaway_upgrade_fixture;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: finding_history; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.finding_history (
    repo text NOT NULL,
    digest text NOT NULL,
    finding_key text NOT NULL,
    name text NOT NULL,
    package_name text NOT NULL,
    package_version text NOT NULL,
    severity text NOT NULL,
    first_seen bigint NOT NULL,
    resolved_at bigint DEFAULT 0 NOT NULL
);


--
-- Name: image_pulls; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.image_pulls (
    repo text NOT NULL,
    digest text NOT NULL,
    last_pulled_at bigint NOT NULL
);


--
-- Name: images; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.images (
    repo text NOT NULL,
    digest text NOT NULL,
    media_type text NOT NULL,
    artifact_media_type text NOT NULL,
    size bigint NOT NULL,
    pushed_at bigint NOT NULL
);


--
-- Name: inventories; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.inventories (
    repo text NOT NULL,
    digest text NOT NULL,
    enhanced integer NOT NULL,
    data bytea NOT NULL,
    stored_at bigint NOT NULL,
    db_built_at bigint DEFAULT 0 NOT NULL
);


--
-- Name: inventory_keys; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.inventory_keys (
    namespace text NOT NULL,
    package text NOT NULL,
    repo text NOT NULL,
    digest text NOT NULL
);


--
-- Name: jobs; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.jobs (
    id bigint NOT NULL,
    repo text NOT NULL,
    digest text NOT NULL,
    enhanced integer NOT NULL,
    state text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_after bigint NOT NULL,
    lease_until bigint DEFAULT 0 NOT NULL,
    worker text DEFAULT ''::text NOT NULL,
    last_error text DEFAULT ''::text NOT NULL,
    created_at bigint NOT NULL
);


--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE stowaway_upgrade_fixture.jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME stowaway_upgrade_fixture.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: lifecycle_leases; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.lifecycle_leases (
    name text NOT NULL,
    holder text NOT NULL,
    until bigint NOT NULL
);


--
-- Name: lifecycle_policies; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.lifecycle_policies (
    repo text NOT NULL,
    repo_created_at bigint NOT NULL,
    policy text NOT NULL,
    updated_at bigint NOT NULL,
    last_evaluated_at bigint DEFAULT 0 NOT NULL
);


--
-- Name: lifecycle_previews; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.lifecycle_previews (
    repo text NOT NULL,
    repo_created_at bigint NOT NULL,
    policy text NOT NULL,
    status text NOT NULL,
    started_at bigint NOT NULL,
    results text NOT NULL
);


--
-- Name: outbox; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.outbox (
    id bigint NOT NULL,
    sink_id text NOT NULL,
    event_id text NOT NULL,
    payload text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at bigint,
    delivered_at bigint,
    last_error text
);


--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE SEQUENCE stowaway_upgrade_fixture.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER SEQUENCE stowaway_upgrade_fixture.outbox_id_seq OWNED BY stowaway_upgrade_fixture.outbox.id;


--
-- Name: referrers; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.referrers (
    repo text NOT NULL,
    subject text NOT NULL,
    digest text NOT NULL,
    media_type text NOT NULL,
    artifact_type text NOT NULL,
    size bigint NOT NULL,
    annotations text NOT NULL
);


--
-- Name: repositories; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.repositories (
    name text NOT NULL,
    created_at bigint NOT NULL,
    scan_on_push integer DEFAULT 0 NOT NULL,
    tag_immutable integer DEFAULT 0 NOT NULL
);


--
-- Name: rescan_leases; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.rescan_leases (
    name text NOT NULL,
    holder text NOT NULL,
    until bigint NOT NULL
);


--
-- Name: scan_result_chunks; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.scan_result_chunks (
    repo text NOT NULL,
    digest text NOT NULL,
    kind integer NOT NULL,
    chunk integer NOT NULL,
    items text NOT NULL
);


--
-- Name: scan_result_split; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.scan_result_split (
    repo text NOT NULL,
    digest text NOT NULL,
    findings integer NOT NULL,
    enhanced integer NOT NULL,
    chunk_size integer NOT NULL
);


--
-- Name: scans; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.scans (
    repo text NOT NULL,
    digest text NOT NULL,
    status text NOT NULL,
    description text NOT NULL,
    started_at bigint NOT NULL,
    result text NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.settings (
    name text NOT NULL,
    value text NOT NULL
);


--
-- Name: tags; Type: TABLE; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE TABLE stowaway_upgrade_fixture.tags (
    repo text NOT NULL,
    tag text NOT NULL,
    digest text NOT NULL
);


--
-- Name: outbox id; Type: DEFAULT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.outbox ALTER COLUMN id SET DEFAULT nextval('stowaway_upgrade_fixture.outbox_id_seq'::regclass);


--
-- Data for Name: finding_history; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.finding_history VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'CVE-2024-0001openssl3.0.1', 'CVE-2024-0001', 'openssl', '3.0.1', 'HIGH', 1796119440000, 0);


--
-- Data for Name: image_pulls; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.image_pulls VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1796119500000);


--
-- Data for Name: images; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.images VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'application/vnd.oci.image.manifest.v1+json', '', 1234, 1796119260000);


--
-- Data for Name: inventories; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.inventories VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 0, '\x696e76656e746f7279', 1796119440000, 1796119200000);


--
-- Data for Name: inventory_keys; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.inventory_keys VALUES ('debian:12', 'openssl', 'team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');


--
-- Data for Name: jobs; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--



--
-- Data for Name: lifecycle_leases; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--



--
-- Data for Name: lifecycle_policies; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.lifecycle_policies VALUES ('team/app', 1796119200000, '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}', 1796119200000, 0);


--
-- Data for Name: lifecycle_previews; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--



--
-- Data for Name: outbox; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.outbox VALUES (1, 'sink-a', 'ev-1', '{"version":"0","id":"ev-1","detail-type":"ECR Image Scan","source":"aws.ecr","account":"","time":"2026-12-01T10:00:00Z","region":"","resources":null,"detail":{}}', 0, 1796243347135, NULL, NULL);


--
-- Data for Name: referrers; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--



--
-- Data for Name: repositories; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.repositories VALUES ('team/app', 1796119200000, 1, 0);
INSERT INTO stowaway_upgrade_fixture.repositories VALUES ('team/immutable', 1796119200000, 0, 1);


--
-- Data for Name: rescan_leases; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--



--
-- Data for Name: scan_result_chunks; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.scan_result_chunks VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 0, 0, '{"name":"CVE-2024-0001","severity":"HIGH","attributes":[{"key":"package_name","value":"openssl"},{"key":"package_version","value":"3.0.1"}]}');


--
-- Data for Name: scan_result_split; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.scan_result_split VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1, 0, 100);


--
-- Data for Name: scans; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.scans VALUES ('team/app', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'COMPLETE', 'The scan was completed successfully.', 1796119320000, '{"findingSeverityCounts":{"HIGH":1},"imageScanStatus":{"status":"COMPLETE"}}');


--
-- Data for Name: settings; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.settings VALUES ('registry-scanning-configuration', '{"scanType":"BASIC","rules":[]}');


--
-- Data for Name: tags; Type: TABLE DATA; Schema: stowaway_upgrade_fixture; Owner: -
--

INSERT INTO stowaway_upgrade_fixture.tags VALUES ('team/app', 'v1', 'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');


--
-- Name: jobs_id_seq; Type: SEQUENCE SET; Schema: stowaway_upgrade_fixture; Owner: -
--

SELECT pg_catalog.setval('stowaway_upgrade_fixture.jobs_id_seq', 1, true);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: stowaway_upgrade_fixture; Owner: -
--

SELECT pg_catalog.setval('stowaway_upgrade_fixture.outbox_id_seq', 1, true);


--
-- Name: finding_history finding_history_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.finding_history
    ADD CONSTRAINT finding_history_pkey PRIMARY KEY (repo, digest, finding_key);


--
-- Name: image_pulls image_pulls_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.image_pulls
    ADD CONSTRAINT image_pulls_pkey PRIMARY KEY (repo, digest);


--
-- Name: images images_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.images
    ADD CONSTRAINT images_pkey PRIMARY KEY (repo, digest);


--
-- Name: inventories inventories_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.inventories
    ADD CONSTRAINT inventories_pkey PRIMARY KEY (repo, digest);


--
-- Name: inventory_keys inventory_keys_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.inventory_keys
    ADD CONSTRAINT inventory_keys_pkey PRIMARY KEY (namespace, package, repo, digest);


--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);


--
-- Name: lifecycle_leases lifecycle_leases_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.lifecycle_leases
    ADD CONSTRAINT lifecycle_leases_pkey PRIMARY KEY (name);


--
-- Name: lifecycle_policies lifecycle_policies_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.lifecycle_policies
    ADD CONSTRAINT lifecycle_policies_pkey PRIMARY KEY (repo);


--
-- Name: lifecycle_previews lifecycle_previews_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.lifecycle_previews
    ADD CONSTRAINT lifecycle_previews_pkey PRIMARY KEY (repo);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: outbox outbox_sink_id_event_id_key; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.outbox
    ADD CONSTRAINT outbox_sink_id_event_id_key UNIQUE (sink_id, event_id);


--
-- Name: referrers referrers_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.referrers
    ADD CONSTRAINT referrers_pkey PRIMARY KEY (repo, subject, digest);


--
-- Name: repositories repositories_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.repositories
    ADD CONSTRAINT repositories_pkey PRIMARY KEY (name);


--
-- Name: rescan_leases rescan_leases_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.rescan_leases
    ADD CONSTRAINT rescan_leases_pkey PRIMARY KEY (name);


--
-- Name: scan_result_chunks scan_result_chunks_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.scan_result_chunks
    ADD CONSTRAINT scan_result_chunks_pkey PRIMARY KEY (repo, digest, kind, chunk);


--
-- Name: scan_result_split scan_result_split_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.scan_result_split
    ADD CONSTRAINT scan_result_split_pkey PRIMARY KEY (repo, digest);


--
-- Name: scans scans_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.scans
    ADD CONSTRAINT scans_pkey PRIMARY KEY (repo, digest);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (name);


--
-- Name: tags tags_pkey; Type: CONSTRAINT; Schema: stowaway_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY stowaway_upgrade_fixture.tags
    ADD CONSTRAINT tags_pkey PRIMARY KEY (repo, tag);


--
-- Name: console_findings; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX console_findings ON stowaway_upgrade_fixture.finding_history USING btree (resolved_at, repo, digest, name, severity, first_seen);


--
-- Name: console_images_pushed; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX console_images_pushed ON stowaway_upgrade_fixture.images USING btree (repo, pushed_at, digest);


--
-- Name: inventory_keys_image; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX inventory_keys_image ON stowaway_upgrade_fixture.inventory_keys USING btree (repo, digest);


--
-- Name: jobs_runnable; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX jobs_runnable ON stowaway_upgrade_fixture.jobs USING btree (state, run_after);


--
-- Name: outbox_due; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX outbox_due ON stowaway_upgrade_fixture.outbox USING btree (next_attempt_at) WHERE (delivered_at IS NULL);


--
-- Name: tags_digest; Type: INDEX; Schema: stowaway_upgrade_fixture; Owner: -
--

CREATE INDEX tags_digest ON stowaway_upgrade_fixture.tags USING btree (repo, digest);


--
-- PostgreSQL database dump complete
--

\unrestrict nguKf5WK3zTDdBE6pagkhdgGdm8e3eZrzUCXdARtcOQoOkqDokr8bBzEQSqPayn


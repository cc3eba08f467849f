ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_enabled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_servers_override" jsonb;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_fail_open" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_query_all_servers" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_max_retries" integer DEFAULT 4 NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "ocsp_this_update_max_age" integer DEFAULT 0 NOT NULL;
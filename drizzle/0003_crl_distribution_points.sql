ALTER TABLE "fetched_crls" ADD COLUMN "source" text DEFAULT 'url' NOT NULL;--> statement-breakpoint
ALTER TABLE "fetched_crls" ADD COLUMN "last_used_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "crls_next_update" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "use_crl_distribution_points" boolean DEFAULT false NOT NULL;
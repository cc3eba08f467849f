ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "required_extensions" jsonb;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "token_audiences" jsonb;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "claim_mappings" jsonb;
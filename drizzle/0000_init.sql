CREATE TABLE "audit_logs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event_type" text NOT NULL,
	"identity_id" uuid,
	"org_id" uuid,
	"reason_code" text,
	"certificate_fingerprint" text,
	"certificate_subject" text,
	"client_ip" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"org_id" uuid NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identities_role_check" CHECK ("identities"."role" in ('admin', 'member'))
);
--> statement-breakpoint
CREATE TABLE "identity_access_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"identity_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"auth_method" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"access_token_ttl" integer NOT NULL,
	"access_token_max_ttl" integer NOT NULL,
	"num_uses" integer DEFAULT 0 NOT NULL,
	"num_uses_limit" integer DEFAULT 0 NOT NULL,
	"revoked_at" timestamp with time zone,
	"cert_thumbprint" text,
	"last_renewed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "identity_memberships" (
	"identity_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identity_memberships_identity_id_org_id_pk" PRIMARY KEY("identity_id","org_id")
);
--> statement-breakpoint
CREATE TABLE "identity_tls_cert_auths" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"identity_id" uuid NOT NULL,
	"ca_certificate" text NOT NULL,
	"allowed_common_names" text,
	"allowed_subject_alt_names" jsonb,
	"allowed_organizations" jsonb,
	"allowed_organizational_units" jsonb,
	"verify_client_certificate_chain" boolean DEFAULT false NOT NULL,
	"crls" text,
	"bind_tokens_to_certificate" boolean DEFAULT false NOT NULL,
	"access_token_trusted_ips" jsonb NOT NULL,
	"access_token_ttl" integer NOT NULL,
	"access_token_max_ttl" integer NOT NULL,
	"access_token_num_uses_limit" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identity_tls_cert_auths_identity_id_unique" UNIQUE("identity_id")
);
--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"parent_org_id" uuid,
	"root_org_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_parent_slug_unique" UNIQUE NULLS NOT DISTINCT("parent_org_id","slug")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_key_enc" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	"publish_until" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "identities" ADD CONSTRAINT "identities_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity_access_tokens" ADD CONSTRAINT "identity_access_tokens_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity_memberships" ADD CONSTRAINT "identity_memberships_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity_memberships" ADD CONSTRAINT "identity_memberships_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD CONSTRAINT "identity_tls_cert_auths_identity_id_identities_id_fk" FOREIGN KEY ("identity_id") REFERENCES "public"."identities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "organizations" ADD CONSTRAINT "organizations_parent_org_id_organizations_id_fk" FOREIGN KEY ("parent_org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_logs_identity_created_idx" ON "audit_logs" USING btree ("identity_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_logs_created_idx" ON "audit_logs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "identities_org_idx" ON "identities" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "identity_access_tokens_identity_idx" ON "identity_access_tokens" USING btree ("identity_id");
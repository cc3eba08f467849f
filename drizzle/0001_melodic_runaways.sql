CREATE TABLE "fetched_crls" (
	"config_id" uuid NOT NULL,
	"url" text NOT NULL,
	"der" "bytea" NOT NULL,
	"etag" text,
	"last_modified" text,
	"this_update" timestamp with time zone NOT NULL,
	"next_update" timestamp with time zone,
	"last_fetched_at" timestamp with time zone NOT NULL,
	"last_status" text NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"next_fetch_at" timestamp with time zone NOT NULL,
	CONSTRAINT "fetched_crls_config_id_url_pk" PRIMARY KEY("config_id","url")
);
--> statement-breakpoint
ALTER TABLE "identity_tls_cert_auths" ADD COLUMN "crl_urls" jsonb;--> statement-breakpoint
ALTER TABLE "fetched_crls" ADD CONSTRAINT "fetched_crls_config_id_identity_tls_cert_auths_id_fk" FOREIGN KEY ("config_id") REFERENCES "public"."identity_tls_cert_auths"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "fetched_crls_next_fetch_idx" ON "fetched_crls" USING btree ("next_fetch_at");
/**
 * GET /api/docs/openapi.json against the seed (Infisical's OpenAPI of the login route). The seed is OpenAPI
 * 3.0.3 and ours 3.1, generated from the zod schemas that validate requests, so schemas are compared by
 * meaning: `$ref`s resolved, `const` read as a one-value `enum`, descriptions ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { opsWorld, type OpsWorld } from "./support.ts";

const SEED = "/work/shared/seed/000_6ee8b05fd9a9128b.txt";
const LOGIN = "/api/v1/auth/tls-cert-auth/login";

type Schema = Record<string, any>;

function seedDocument(): Schema {
  const text = readFileSync(process.env.CERTAUTH_SEED ?? SEED, "utf8");
  const yaml = /````yaml[^\n]*\n([\s\S]*?)````/.exec(text)![1]!;
  return Bun.YAML.parse(yaml) as Schema;
}

function resolve(doc: Schema, schema: Schema): Schema {
  if (schema.$ref) return resolve(doc, doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")]);
  return schema;
}

/** The parts of a JSON schema that constrain values, in one normal form. */
function normalize(doc: Schema, raw: Schema): Schema {
  const schema = resolve(doc, raw);
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "description" || key === "title" || key === "example") continue;
    if (key === "const") out.enum = [value];
    else if (key === "properties") {
      out.properties = Object.fromEntries(Object.entries(value as Schema).map(([name, sub]) => [name, normalize(doc, sub as Schema)]));
    } else if (key === "required") out.required = [...(value as string[])].sort();
    else out[key] = value;
  }
  return out;
}

function responseSchema(doc: Schema, status: string): Schema {
  return normalize(doc, doc.paths[LOGIN].post.responses[status].content["application/json"].schema);
}

let world: OpsWorld;
let ours: Schema;
let seed: Schema;

beforeAll(async () => {
  world = await opsWorld();
  const response = await world.request("/api/docs/openapi.json");
  expect(response.status).toBe(200);
  ours = (await response.json()) as Schema;
  seed = seedDocument();
}, 60_000);
afterAll(() => world?.close());

describe("the OpenAPI document of the login route matches the seed", () => {
  it("documents POST /api/v1/auth/tls-cert-auth/login with the seed's operationId and a required JSON body", () => {
    const operation = ours.paths[LOGIN].post;
    expect(ours.openapi).toStartWith("3.1");
    expect(operation.operationId).toBe("loginWithTlsCertAuth");
    expect(operation.requestBody.required).toBe(true);
  });

  it("has the seed's request schema: identityId required, organizationSlug 1-64 chars, additionalProperties false", () => {
    const mine = normalize(ours, ours.paths[LOGIN].post.requestBody.content["application/json"].schema);
    const theirs = normalize(seed, seed.paths[LOGIN].post.requestBody.content["application/json"].schema);
    expect(Object.keys(mine.properties).sort()).toEqual(Object.keys(theirs.properties).sort());
    expect(mine.required).toEqual(theirs.required);
    expect(mine.additionalProperties).toBe(false);
    expect(mine.properties.organizationSlug).toMatchObject({ type: "string", minLength: 1, maxLength: 64 });
    expect(mine.properties.identityId.type).toBe("string");
  });

  it("has the seed's 200 answer: the four fields, all required, tokenType Bearer, additionalProperties false", () => {
    expect(responseSchema(ours, "200")).toEqual(responseSchema(seed, "200"));
  });

  for (const status of ["400", "401", "403", "404", "422", "500"]) {
    it(`has the seed's ${status} error body: same fields, statusCode ${status}, additionalProperties false`, () => {
      const mine = responseSchema(ours, status);
      const theirs = responseSchema(seed, status);
      expect(Object.keys(mine.properties).sort()).toEqual(Object.keys(theirs.properties).sort());
      expect(mine.additionalProperties).toBe(false);
      expect(mine.properties.statusCode).toEqual(theirs.properties.statusCode);
      // Ours may require more (422 always carries a message) but never drops a field the seed requires.
      for (const field of theirs.required) expect(mine.required).toContain(field);
      for (const [name, schema] of Object.entries(theirs.properties as Record<string, Schema>)) {
        if (schema.type) expect(mine.properties[name].type).toBe(schema.type);
      }
    });
  }
});

describe("the OpenAPI document covers every route", () => {
  const routes: [string, string][] = [
    ["get", "/api/status"],
    ["get", "/metrics"],
    ["post", "/api/v1/auth/tls-cert-auth/login"],
    ["post", "/api/v1/organizations"],
    ["get", "/api/v1/organizations/{id}"],
    ["post", "/api/v1/identities"],
    ["get", "/api/v1/identities/{identityId}"],
    ["patch", "/api/v1/identities/{identityId}"],
    ["delete", "/api/v1/identities/{identityId}"],
    ["post", "/api/v1/organizations/{orgId}/identity-memberships"],
    ["delete", "/api/v1/organizations/{orgId}/identity-memberships/{identityId}"],
    ["post", "/api/v1/auth/tls-cert-auth/identities/{identityId}"],
    ["get", "/api/v1/auth/tls-cert-auth/identities/{identityId}"],
    ["patch", "/api/v1/auth/tls-cert-auth/identities/{identityId}"],
    ["delete", "/api/v1/auth/tls-cert-auth/identities/{identityId}"],
    ["get", "/api/v1/audit-logs"],
    ["post", "/api/v1/auth/token/renew"],
    ["post", "/api/v1/auth/token/revoke"],
    ["get", "/api/v1/auth/token/self"],
    ["post", "/api/v1/auth/token/introspect"],
    ["get", "/.well-known/jwks.json"],
    ["get", "/.well-known/openid-configuration"],
  ];

  it.each(routes)("%s %s with its answer, and its body when it takes one", (method, path) => {
    const operation = ours.paths[path]?.[method];
    expect(operation).toBeDefined();
    expect(operation.responses["200"]).toBeDefined();
    if (method === "post" || method === "patch") expect(operation.requestBody.content["application/json"].schema).toBeDefined();
  });

  it("documents the OIDC fields of TLS cert auth and the discovery document's members", () => {
    const attach = resolve(ours, ours.paths["/api/v1/auth/tls-cert-auth/identities/{identityId}"].post.requestBody.content["application/json"].schema);
    expect(Object.keys(attach.properties)).toEqual(expect.arrayContaining(["requiredExtensions", "tokenAudiences", "claimMappings"]));
    const discovery = resolve(ours, ours.paths["/.well-known/openid-configuration"].get.responses["200"].content["application/json"].schema);
    expect(Object.keys(discovery.properties).sort()).toEqual(
      ["claims_supported", "id_token_signing_alg_values_supported", "issuer", "jwks_uri", "response_types_supported", "subject_types_supported"],
    );
  });

  it("documents at attach, PATCH and login the 503 of a CRL decoder with no room, with its Retry-After", () => {
    const config = ours.paths["/api/v1/auth/tls-cert-auth/identities/{identityId}"];
    for (const operation of [config.post, config.patch, ours.paths[LOGIN].post]) {
      expect(operation.responses["503"].description).toContain("CRL decoder");
      expect(operation.responses["503"].description).toContain("Retry-After");
    }
  });

  it("answers every error of every route with the seed's error shape for that status", () => {
    let checked = 0;
    for (const [path, item] of Object.entries(ours.paths as Record<string, Schema>)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, Schema>)) {
          if (Number(status) < 400) continue;
          const schema = normalize(ours, response.content["application/json"].schema);
          expect(`${method} ${path} ${status}: ${JSON.stringify(schema.required)}`).toBe(`${method} ${path} ${status}: ${JSON.stringify(["error", "message", "reqId", "statusCode"])}`);
          expect(schema.properties.statusCode.enum).toEqual([Number(status)]);
          expect(schema.additionalProperties).toBe(false);
          expect("details" in schema.properties).toBe(status === "400" || status === "403");
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("every documented route is one the app answers (no 404 from the router)", async () => {
    for (const path of Object.keys(ours.paths)) {
      const concrete = path.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000");
      const method = Object.keys(ours.paths[path])[0]!.toUpperCase();
      const response = await world.request(concrete, { method, admin: true, ...(method === "GET" || method === "DELETE" ? {} : { json: {} }) });
      const body = response.headers.get("content-type")?.includes("json") ? ((await response.json()) as Schema) : {};
      expect(`${method} ${path}: ${String(body.message ?? "")}`).not.toContain("Route ");
    }
  });
});

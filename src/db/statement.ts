import { is, Placeholder, sql, type SQL } from "drizzle-orm";
import { PgDialect, type PgColumn } from "drizzle-orm/pg-core";
import type { Db } from "./client.ts";
import { prepareStatement, type PreparedStatement, type TextParam, type TextRow } from "./prepared.ts";

/** A statement written with drizzle's `sql` over schema columns, run through prepareStatement. */
export type NamedStatement<K extends string> = (values: Record<K, TextParam>) => Promise<TextRow[]>;

const dialect = new PgDialect();
// One named statement per connection: PostgreSQL refuses to parse a second statement under the same name.
const prepared = new WeakMap<Db, Map<string, PreparedStatement>>();

/**
 * Compiles `query` once to the text prepareStatement takes. `sql.placeholder(name)` parameters are filled from
 * each call's values; a parameter written inline is fixed text.
 */
export function namedStatement<K extends string>(db: Db, name: string, query: SQL): NamedStatement<K> {
  const { sql: text, params } = dialect.sqlToQuery(query);
  const slots = params.map((p): { name: K } | { fixed: TextParam } => (is(p, Placeholder) ? { name: p.name as K } : { fixed: p as TextParam }));
  let statements = prepared.get(db);
  if (!statements) prepared.set(db, (statements = new Map()));
  let run = statements.get(name);
  if (!run) statements.set(name, (run = prepareStatement(db, name, text)));
  const statement = run;
  return (values) => statement(slots.map((s) => ("name" in s ? values[s.name] : s.fixed)));
}

/** A value as a JSON object carries it: timestamps become strings, the rest keeps its type. */
type JsonOf<T> = T extends Date ? string : T;
export type JsonObject<F extends Record<string, PgColumn>> = { [K in keyof F]: JsonOf<F[K]["_"]["data"]> };

/**
 * The columns as one JSON object: both drivers then answer booleans and numbers as such, read by JSON.parse,
 * and the row's type follows the schema.
 */
export function jsonObject<F extends Record<string, PgColumn>>(fields: F): SQL<JsonObject<F>> {
  const pairs = Object.entries(fields).map(([key, column]) => sql`${sql.raw(`'${key}'`)}, ${column}`);
  return sql<JsonObject<F>>`json_build_object(${sql.join(pairs, sql`, `)})`;
}

/** Column names for an insert's column list, unqualified as PostgreSQL wants them there. */
export function columnList(...columns: PgColumn[]): SQL {
  return sql.join(
    columns.map((c) => sql.identifier(c.name)),
    sql`, `,
  );
}

/** A PostgreSQL array type for `column`'s values, for a parameter that carries one value per batched item. */
export function arrayOf(column: PgColumn): SQL {
  return sql.raw(`${column.getSQLType()}[]`);
}

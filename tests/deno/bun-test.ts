/**
 * `bun:test` for Deno (deno.json maps the specifier here): describe/it/expect over Deno.test and node:assert,
 * enough for the runtime-agnostic suites to run unchanged on Deno, offline.
 */
import assert from "node:assert/strict";

declare const Deno: { test(name: string, fn: () => unknown): void };

type Class = abstract new (...args: never[]) => unknown;

const prefix: string[] = [];

export function describe(name: string, body: () => void): void {
  prefix.push(name);
  try {
    body();
  } finally {
    prefix.pop();
  }
}

export function it(name: string, fn: () => unknown, _timeout?: number): void {
  Deno.test([...prefix, name].join(" > "), fn);
}
export const test = it;

/** "%s" placeholders filled with a row's values in order, as bun:test's .each does. */
function titled(name: string, row: unknown[]): string {
  let i = 0;
  return name.replace(/%[sdpioj#]/g, () => String(row[i++]));
}
const rowsOf = <T>(rows: T[]) => rows.map((row) => (Array.isArray(row) ? row : [row]) as unknown[]);
it.each = <T>(rows: T[]) => (name: string, fn: (...args: any[]) => unknown) => {
  for (const row of rowsOf(rows)) it(titled(name, row), () => fn(...row));
};
describe.each = <T>(rows: T[]) => (name: string, body: (...args: any[]) => void) => {
  for (const row of rowsOf(rows)) describe(titled(name, row), () => body(...row));
};

function matchesObject(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== "object") return Object.is(actual, expected);
  if (actual === null || typeof actual !== "object") return false;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesObject(actual[i], e));
  }
  return Object.entries(expected).every(([k, v]) => matchesObject((actual as Record<string, unknown>)[k], v));
}

const show = (v: unknown) => {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

function thrownBy(fn: () => unknown): { threw: boolean; error: unknown } {
  try {
    fn();
    return { threw: false, error: undefined };
  } catch (error) {
    return { threw: true, error };
  }
}

function throwMatches(error: unknown, expected: string | RegExp | Class | undefined): boolean {
  if (expected === undefined) return true;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof expected === "string") return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  return error instanceof expected;
}

function matchers(actual: unknown, negate: boolean) {
  const check = (pass: boolean, message: string) => {
    if (pass === negate) throw new assert.AssertionError({ message: `${negate ? "not: " : ""}${message}`, actual });
  };
  return {
    toBe: (expected: unknown) => check(Object.is(actual, expected), `expected ${show(actual)} to be ${show(expected)}`),
    toEqual: (expected: unknown) => {
      const { threw } = thrownBy(() => assert.deepStrictEqual(actual, expected));
      check(!threw, `expected ${show(actual)} to equal ${show(expected)}`);
    },
    toMatchObject: (expected: object) => check(matchesObject(actual, expected), `expected ${show(actual)} to match ${show(expected)}`),
    toContain: (item: unknown) =>
      check(
        typeof actual === "string" ? actual.includes(String(item)) : (actual as unknown[]).includes(item),
        `expected ${show(actual)} to contain ${show(item)}`,
      ),
    toMatch: (pattern: RegExp | string) =>
      check(typeof pattern === "string" ? String(actual).includes(pattern) : pattern.test(String(actual)), `expected ${show(actual)} to match ${pattern}`),
    toBeInstanceOf: (type: Class) => check(actual instanceof type, `expected ${show(actual)} to be an instance of ${type.name}`),
    toHaveLength: (length: number) => check((actual as { length: number }).length === length, `expected length ${length}`),
    toBeNull: () => check(actual === null, `expected ${show(actual)} to be null`),
    toBeUndefined: () => check(actual === undefined, `expected ${show(actual)} to be undefined`),
    toBeDefined: () => check(actual !== undefined, "expected a value"),
    toBeTruthy: () => check(Boolean(actual), `expected ${show(actual)} to be truthy`),
    toBeFalsy: () => check(!actual, `expected ${show(actual)} to be falsy`),
    toBeGreaterThan: (n: number) => check((actual as number) > n, `expected ${show(actual)} > ${n}`),
    toBeLessThan: (n: number) => check((actual as number) < n, `expected ${show(actual)} < ${n}`),
    toThrow: (expected?: string | RegExp | Class) => {
      const { threw, error } = thrownBy(actual as () => unknown);
      check(threw && throwMatches(error, expected), `expected the function to throw ${expected instanceof Function ? expected.name : (expected ?? "")}`);
    },
  };
}

async function settled(promise: unknown): Promise<{ threw: boolean; error: unknown }> {
  try {
    await promise;
    return { threw: false, error: undefined };
  } catch (error) {
    return { threw: true, error };
  }
}

export function expect(actual: unknown) {
  return {
    ...matchers(actual, false),
    not: matchers(actual, true),
    rejects: {
      async toThrow(expected?: string | RegExp | Class) {
        const { threw, error } = await settled(actual);
        matchers(threw && throwMatches(error, expected), false).toBe(true);
      },
      async toBeInstanceOf(type: Class) {
        const { threw, error } = await settled(actual);
        matchers(threw, false).toBe(true);
        matchers(error, false).toBeInstanceOf(type);
      },
    },
  };
}

// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API; load it first.
import "reflect-metadata";

export * from "@peculiar/x509";

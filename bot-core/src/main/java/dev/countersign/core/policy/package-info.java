/** Step ②: ordered risk rules with CEL conditions, first match wins, fail closed; the raise-only hint; the explanation. */
package dev.countersign.core.policy;

/** Steps ① and ③: validate an agent's ask (every field named in errors), idempotency, store it with its audit entries. */
package dev.countersign.core.ask;

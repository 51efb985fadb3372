/** Step ⑨: long-poll waiters (futures, not threads) and the durable, signed webhook outbox. */
package dev.countersign.core.notify;

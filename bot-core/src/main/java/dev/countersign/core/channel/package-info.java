/** Steps ⑤ and ⑧: the channel SPI (Slack, Teams, web implement it) and the fan-out that keeps every posted message in step. */
package dev.countersign.core.channel;

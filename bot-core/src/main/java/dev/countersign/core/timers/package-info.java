/** Step ④: Quartz JDBC timers for escalation, veto windows and expiry; what a fired timer does; the reconciler query. */
package dev.countersign.core.timers;

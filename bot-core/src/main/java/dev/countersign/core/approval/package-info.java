/** The domain: an approval (what was asked, where it stands), its plan, risk and decision. Immutable values, no I/O. */
package dev.countersign.core.approval;

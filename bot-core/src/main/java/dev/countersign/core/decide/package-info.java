/** Steps ⑥ and ⑦: the one decide method — eligibility, no self-approval, quorum, exactly once by a conditional update. */
package dev.countersign.core.decide;

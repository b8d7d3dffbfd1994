"""DRIFT's users in the toy world: what a dissatisfied user says (``feedback``, from the known truth), and a reviser who
acts on it (``revise``, for π_0's revision dialogues); the hindsight conversation x ⊕ y⁻ ⊕ f the policy answers."""

from __future__ import annotations

from ...worlds.toy_lm import solve, split_response, valid_tail


def feedback(prompt: str, response: str) -> str | None:
    """The user's follow-up after an answer (WildFeedback's ``user_preference``): None when satisfied (the answer is
    exactly right), else a message naming the first thing that is wrong, in the world's characters:
    ``"no, <i> is <c>"`` (1-based position of the first wrong character and the right one), ``"no, too long"``,
    ``"no, too short"``, or ``"no, junk at end"`` (a malformed tail)."""
    ans, tail = split_response(response)
    truth = solve(prompt)
    if tail and not valid_tail(tail):
        return "no, junk at end"
    if ans == truth:
        return None
    for i, (a, b) in enumerate(zip(ans, truth)):
        if a != b:
            return f"no, {i + 1} is {b}"  # DEVIATION (conf/paper/drift.yaml, logs): names the right character
    return "no, too long" if len(ans) > len(truth) else "no, too short"


def revise(answer: str, fb: str) -> str:
    """A reviser who acts on the feedback: the hint ``"no, i is c"`` sets character i of the answer part to c (other
    messages leave it unchanged). Builds π_0's revision-dialogue targets; never used on the policy's own samples."""
    ans, tail = split_response(answer)
    parts = fb.split()
    if len(parts) == 4 and parts[0] == "no," and parts[2] == "is" and parts[1].isdigit():
        i = int(parts[1]) - 1
        if 0 <= i < len(ans):
            ans = ans[:i] + parts[3] + ans[i + 1 :]
    return ans + tail


def hindsight_conversation(prompt: str, dsat: str, fb: str) -> list[dict]:
    """x ⊕ y⁻ ⊕ f (card, Algorithm step 3a): the policy sees its bad answer and the complaint, then answers again.
    DEVIATION: no separate "System: give an improved response" line (the toy chat template has no system role)."""
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": dsat},
        {"role": "user", "content": fb},
    ]

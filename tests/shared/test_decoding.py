import numpy as np
import pytest

from shared.decoding import beam_search, greedy_decode, length_penalty_factor, map_state

START, END = 0, 1


def objects(items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def table_step(table: dict, vocabulary: int = 4):
    """A step whose next-token distribution depends on the whole prefix (held in the state).

    `table` maps a prefix tuple to {token: probability}; unlisted prefixes end for sure. The
    state is an object array of prefixes, so a beam that reorders states wrongly would look up
    the wrong prefix. The attention row records the prefix length.
    """

    def step(tokens, state):
        prefixes = [
            prefix + (int(token),) if int(token) != START else ()
            for prefix, token in zip(state, tokens, strict=True)
        ]
        log_probs = np.full((len(tokens), vocabulary), -np.inf)
        for row, prefix in enumerate(prefixes):
            for token, p in table.get(prefix, {END: 1.0}).items():
                log_probs[row, token] = np.log(p)
        attention = np.array([[len(p), 0.0] for p in prefixes])
        return log_probs, objects(prefixes), attention

    return step


# Greedy takes 2 (0.6) then must take 3 at 0.5 -> 0.3 in total; beam finds 3 (0.4) then 2 at
# 1.0 -> 0.4.
TRAP = {
    (): {2: 0.6, 3: 0.4},
    (2,): {2: 0.5, 3: 0.5},
    (2, 2): {END: 1.0},
    (2, 3): {END: 1.0},
    (3,): {2: 1.0},
    (3, 2): {END: 1.0},
}


def initial_state(rows=1):
    return objects([()] * rows)


def test_greedy_takes_the_locally_best_token_and_beam_finds_the_better_sequence():
    step = table_step(TRAP)
    greedy = greedy_decode(step, initial_state(), [START], END, max_length=5)[0]
    assert greedy.tokens == [2, 2] and greedy.finished
    assert greedy.log_prob == pytest.approx(np.log(0.6 * 0.5))
    beams = beam_search(
        step, initial_state(), START, END, max_length=5, beam_width=2, length_penalty=0.0
    )
    assert beams[0].tokens == [3, 2] and beams[0].log_prob == pytest.approx(np.log(0.4))
    assert [b.tokens for b in beams] == [[3, 2], [2, 2]]
    # Width 1 is greedy.
    assert beam_search(step, initial_state(), START, END, 5, beam_width=1)[0].tokens == [2, 2]


def test_attention_rows_follow_the_chosen_tokens():
    step = table_step(TRAP)
    best = beam_search(step, initial_state(), START, END, max_length=5, beam_width=2)[0]
    # One attention row per output token, recorded at the step that chose it.
    np.testing.assert_array_equal(best.attention[:, 0], [0, 1])


def test_greedy_decodes_independent_rows_in_one_batch():
    table = {(): {2: 0.9, 3: 0.1}, (2,): {3: 1.0}, (2, 3): {END: 1.0}}
    step = table_step(table)
    results = greedy_decode(step, initial_state(3), [START, START, START], END, max_length=4)
    assert [r.tokens for r in results] == [[2, 3]] * 3


def test_max_length_cuts_an_output_that_never_ends():
    forever = {tuple([2] * n): {2: 1.0} for n in range(20)}
    step = table_step(forever)
    greedy = greedy_decode(step, initial_state(), [START], END, max_length=3)[0]
    assert greedy.tokens == [2, 2, 2] and not greedy.finished
    beam = beam_search(step, initial_state(), START, END, max_length=3, beam_width=3)
    assert beam[0].tokens == [2, 2, 2] and not beam[0].finished


def test_banned_tokens_are_never_chosen():
    step = table_step({(): {2: 0.9, 3: 0.1}, (3,): {END: 1.0}})
    assert greedy_decode(step, initial_state(), [START], END, 4, banned_tokens=[2])[0].tokens == [3]
    assert beam_search(step, initial_state(), START, END, 4, 2, banned_tokens=[2])[0].tokens == [3]


def test_length_penalty_favours_longer_outputs():
    # Short: END at 0.5. Long: 2 (0.5) then 2 (0.9) then END (0.9) = 0.405.
    table = {(): {END: 0.5, 2: 0.5}, (2,): {2: 0.9, END: 0.1}, (2, 2): {END: 0.9}}
    step = table_step(table)
    assert beam_search(step, initial_state(), START, END, 5, 3, length_penalty=0.0)[0].tokens == []
    assert beam_search(step, initial_state(), START, END, 5, 3, length_penalty=2.0)[0].tokens == [
        2,
        2,
    ]
    assert length_penalty_factor(1, 0.0) == 1.0 and length_penalty_factor(1, 1.0) == 1.0


def test_map_state_keeps_structure():
    state = {"a": [np.arange(3), np.arange(6).reshape(3, 2)], "b": (np.arange(3),)}
    picked = map_state(lambda array: array[[2, 0]], state)
    np.testing.assert_array_equal(picked["a"][1], [[4, 5], [0, 1]])
    assert isinstance(picked["b"], tuple)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_width": 0}, "beam_width"),
        ({"max_length": 0}, "max_length"),
        ({"length_penalty": -1.0}, "length_penalty"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    arguments = {"max_length": 3, "beam_width": 2, "length_penalty": 0.6} | kwargs
    with pytest.raises(ValueError, match=message):
        beam_search(table_step(TRAP), initial_state(), START, END, **arguments)


def test_beam_search_does_not_stop_while_a_live_beam_can_still_win():
    # After two steps three unlikely outputs have ended ([], [3] and [2]); the best, [2, 2]
    # (0.385), is still live and must be found.
    table = {
        (): {2: 0.55, END: 0.25, 3: 0.2},
        (2,): {2: 0.7, END: 0.3},
        (3,): {END: 1.0},
        (2, 2): {END: 1.0},
    }
    best = beam_search(table_step(table), initial_state(), START, END, 6, 2, length_penalty=0.0)
    assert best[0].tokens == [2, 2] and best[0].log_prob == pytest.approx(np.log(0.385))

"""The synthetic episode families: each a function ``(rng, a, b) -> Episode``.

``a`` is the speaker the fact is about, ``b`` the other speaker. A family tells one fact over one or more
turns, with several ways to say it and several question phrasings; its ``family`` label
(``"kind/variant"``) names the template type. ``make_sample`` (``synth.py``) draws episodes from
``FAMILIES`` in a seeded shuffle, so the order of ``FAMILIES`` is part of the generated data: appending a
family changes nothing earlier, reordering changes every sample.
"""

from __future__ import annotations

from collections.abc import Callable

from .attribution import cheaper_flat, comparison, hometown, older_relative, pet_owner, speaker_attribution
from .coreference import (
    former_latter,
    object_pronoun,
    place_coreference,
    relative_coreference,
    same_thing,
    that_one,
    there_event,
    thing_coreference,
)
from .facts import answer_in_reply, food_preference, hedged_taste, hobby_lookup, negation, no_longer, pet_name
from .life import (
    advice_given,
    event_feeling,
    gift_giver,
    gift_received,
    injury_cause,
    injury_recovery,
    plan_intention,
    quit_reason,
    recommendation,
)
from .multi import counting, friend_city, gym_visits, multi_hop, shop_city
from .order import before_after, event_time, event_when, first_last, middle_mention, right_before, time_anchor
from .updates import (
    address_update,
    changed_mind,
    date_rescheduled,
    diet_update,
    hair_update,
    job_update,
    move_city,
    phone_update,
    relationship_update,
    restaurant_changed,
    team_update,
    trip_changed,
)

# Families whose answer is a speaker's name: their questions may name both speakers ("Maya or Leo?").
SPEAKER_ANSWER_FAMILIES = ("speaker_attribution/",)

# The order is fixed: generation with a given seed depends on it.
FAMILIES: tuple[Callable, ...] = (
    pet_name,
    hobby_lookup,
    answer_in_reply,
    food_preference,
    hedged_taste,
    job_update,
    move_city,
    relationship_update,
    phone_update,
    team_update,
    hair_update,
    diet_update,
    address_update,
    changed_mind,
    trip_changed,
    restaurant_changed,
    date_rescheduled,
    relative_coreference,
    object_pronoun,
    place_coreference,
    there_event,
    thing_coreference,
    same_thing,
    that_one,
    former_latter,
    speaker_attribution,
    pet_owner,
    hometown,
    comparison,
    first_last,
    middle_mention,
    before_after,
    right_before,
    event_when,
    time_anchor,
    event_time,
    counting,
    gym_visits,
    multi_hop,
    friend_city,
    shop_city,
    negation,
    no_longer,
    cheaper_flat,
    older_relative,
    plan_intention,
    quit_reason,
    event_feeling,
    gift_received,
    gift_giver,
    injury_cause,
    injury_recovery,
    advice_given,
    recommendation,
)

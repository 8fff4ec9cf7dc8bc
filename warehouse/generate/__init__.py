"""``crmwh generate``: deterministic, realistic multi-source CRM extracts of a simulated company.

One world per (seed, customers), simulated over HORIZON_START .. HORIZON_END as versioned records
(one row per record and change). A full extract is the last version of every record as of the end
of a day (UTC); a delta holds the records created or changed on that day, in their state at its end.
Full(E) plus the deltas of E+1..E+k, keeping the latest row per id, equals Full(E+k).

Layout under the target folder::

    salesforce/{User,Account,Contact,Lead,Opportunity,OpportunityHistory,Task,Event,Case}.csv
    hubspot/{owners,companies,contacts,deals,engagements,tickets,contact_merges}.jsonl
    billing/orders.csv
    contact_center/messages.jsonl

Delta files carry the day: ``salesforce/Account_2026-11-21.csv``.
"""

from warehouse.generate.config import DEFAULT_END_DATE, HORIZON_END, HORIZON_START, SCALES
from warehouse.generate.errors import GenerateError
from warehouse.generate.run import FileSummary, GenerateSummary, build_world, generate_extracts

__all__ = [
    "DEFAULT_END_DATE",
    "HORIZON_END",
    "HORIZON_START",
    "SCALES",
    "FileSummary",
    "GenerateError",
    "GenerateSummary",
    "build_world",
    "generate_extracts",
]

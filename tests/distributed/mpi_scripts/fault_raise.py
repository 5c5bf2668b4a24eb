"""Rank 1 raises while rank 0 waits in a collective: the job must end at once, non-zero."""
import time

import chainrule as cr

cr.distributed.init()
if cr.distributed.rank() == 1:
    time.sleep(0.2)
    raise RuntimeError("rank 1 fails on purpose")
cr.distributed.all_reduce(cr.ones(3))          # never completes: rank 1 is gone
print("rank 0 got past the collective", flush=True)

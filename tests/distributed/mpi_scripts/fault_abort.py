"""Rank 1 ends the job with abort(3) while rank 0 waits at a barrier: mpiexec exits with 3."""
import chainrule as cr

cr.distributed.init()
if cr.distributed.rank() == 1:
    cr.distributed.abort(3)
cr.distributed.barrier()
print("rank 0 got past the barrier", flush=True)

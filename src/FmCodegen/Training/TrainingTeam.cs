using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace FmCodegen.Training;

/// <summary>
/// T threads that run a step together: the caller is member 0, members 1..T-1 are dedicated threads that live for
/// one training phase, and every member runs the step with its own index. Inside a step the members meet at
/// <see cref="Sync"/>, a spinning barrier: a window of training is a fraction of a millisecond, and a blocking
/// barrier (System.Threading.Barrier, tried first) spent about as long waking the other thread as the window took.
/// Member t always gets index t, so results never depend on scheduling.
/// </summary>
internal sealed class TrainingTeam : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Exception?[] _errors;
    private Action<int>? _step;
    private readonly object _gate = new();
    private int _remaining;
    private volatile int _phase;
    private volatile bool _stopping;

    public TrainingTeam(int size)
    {
        Size = size;
        _remaining = size;
        _errors = new Exception?[size];
        _threads = new Thread[size - 1];
        for (int t = 1; t < size; t++)
        {
            int member = t;
            _threads[t - 1] = new Thread(() => Work(member)) { IsBackground = true, Name = $"fm-train-{member}" };
            _threads[t - 1].Start();
        }
    }

    public int Size { get; }

    /// <summary>True when a member's step has thrown; the others should finish their step early.</summary>
    public bool Failed
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get
        {
            foreach (Exception? error in _errors)
            {
                if (error is not null)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Records a member's failure; <see cref="Run"/> rethrows it once every member has finished the step.
    /// A step that meets the others at <see cref="Sync"/> must catch its own exceptions, record them and keep
    /// meeting, or the others would wait for it forever.</summary>
    public void Record(int member, Exception error) => _errors[member] ??= error;

    /// <summary>Runs <paramref name="step"/> on every member and returns when all have finished.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(Action<int> step)
    {
        _step = step;
        Sync();   // start
        Step(step, 0);
        Sync();   // end
        for (int t = 0; t < Size; t++)
        {
            if (_errors[t] is { } error)
            {
                Array.Clear(_errors);
                ExceptionDispatchInfo.Capture(error).Throw();
            }
        }
    }

    /// <summary>
    /// One epoch's blocks of rows, window by window, on every member (the scheme of FM and FFM training): a window is
    /// Size x <see cref="FmTrainer.WindowPerThread"/> rows; for each, member t calls <paramref name="train"/>(t,
    /// window, first block, block count) on the t-th slice of it, all meet, each calls <paramref name="merge"/>(t,
    /// window) for its share of the merge, all meet again. A member that fails records it and keeps meeting the
    /// others, so no one waits forever; <see cref="Run"/> rethrows. Returns the number of windows.
    /// </summary>
    public int RunWindows(int blockCount, int firstWindow, Action<int, int, int, int> train, Action<int, int> merge)
    {
        int chunk = Size * (FmTrainer.WindowPerThread / EpochData.RowsPerBlock);
        int windows = (blockCount + chunk - 1) / chunk;
        int threads = Size;
        Run([MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
        {
            for (int i = 0; i < windows; i++)
            {
                int from = i * chunk;
                int size = Math.Min(chunk, blockCount - from);
                int w = firstWindow + i;
                try
                {
                    if (!Failed)
                    {
                        int a = from + (int)((long)size * t / threads), b = from + (int)((long)size * (t + 1) / threads);
                        train(t, w, a, b - a);
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Record(t, e);
                }

                Sync();
                try
                {
                    if (!Failed)
                    {
                        merge(t, w);
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Record(t, e);
                }

                Sync();
            }
        });
        return windows;
    }

    /// <summary>A barrier for all members (sense-reversing): spins for a few microseconds, then waits on a monitor.
    /// Optimised at once, as every method on the hot path: tiered compilation would run it unoptimised for the
    /// first epochs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Sync()
    {
        int phase = _phase;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = Size;
            lock (_gate)
            {
                _phase = phase + 1;
                Monitor.PulseAll(_gate);
            }

            return;
        }

        var spinner = default(SpinWait);
        while (_phase == phase && !spinner.NextSpinWillYield)
        {
            spinner.SpinOnce();
        }

        for (int spins = 0; _phase == phase && spins < 100; spins++)
        {
            Thread.SpinWait(20);
        }

        if (_phase == phase)
        {
            lock (_gate)
            {
                while (_phase == phase)
                {
                    Monitor.Wait(_gate);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Work(int member)
    {
        while (true)
        {
            Sync();
            if (_stopping)
            {
                return;
            }

            Step(_step!, member);
            Sync();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step(Action<int> step, int member)
    {
        try
        {
            step(member);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Record(member, e);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Sync();
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }
    }
}

using System.Runtime.ExceptionServices;

namespace FmCodegen.Training;

/// <summary>
/// T threads that run rounds of two steps in lock step: every member runs step one with its own index, waits for
/// the others, runs step two, waits again. The caller is member 0; members 1..T-1 are dedicated threads that live
/// for one training phase. (Parallel.For, tried first, let the calling thread run both members' steps itself
/// whenever the pool thread was slow to wake, which serialised much of the work.) Member t always gets index t, so
/// results never depend on scheduling.
/// </summary>
internal sealed class TrainingTeam : IDisposable
{
    private readonly Barrier _barrier;
    private readonly Thread[] _threads;
    private readonly Exception?[] _errors;
    private Action<int>? _first;
    private Action<int>? _second;
    private volatile bool _stopping;

    public TrainingTeam(int size)
    {
        Size = size;
        _barrier = new Barrier(size);
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

    /// <summary>Runs <paramref name="first"/> then <paramref name="second"/> on every member, each step a barrier apart.</summary>
    public void Run(Action<int> first, Action<int> second)
    {
        _first = first;
        _second = second;
        _barrier.SignalAndWait();  // start
        Step(first, 0);
        _barrier.SignalAndWait();  // between the steps
        Step(second, 0);
        _barrier.SignalAndWait();  // end
        for (int t = 0; t < Size; t++)
        {
            if (_errors[t] is { } error)
            {
                Array.Clear(_errors);
                ExceptionDispatchInfo.Capture(error).Throw();
            }
        }
    }

    private void Work(int member)
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            Step(_first!, member);
            _barrier.SignalAndWait();
            Step(_second!, member);
            _barrier.SignalAndWait();
        }
    }

    private void Step(Action<int> step, int member)
    {
        if (Array.Exists(_errors, e => e is not null))
        {
            return;
        }

        try
        {
            step(member);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _errors[member] = e;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _barrier.SignalAndWait();
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        _barrier.Dispose();
    }
}

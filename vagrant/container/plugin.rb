# Vagrant glue for the container provider (docker), loaded by ../Vagrantfile.
#
# - Communicator "docker_exec": runs commands and copies files with `docker exec` / `docker cp`, so
#   the shell provisioners run in containers that have no sshd and no network of Docker's.
# - Action hooks: before a container is created, ../container.sh builds the base image if its recipe
#   changed (nothing is pulled); after it starts, ../container.sh wires its network namespace to the
#   lab switch (the namespace lab's own functions); after it is destroyed, unwires it.
require "open3"
require "vagrant/util/subprocess"
require Vagrant.source_root.join("plugins/providers/docker/action").to_s
require Vagrant.source_root.join("plugins/providers/docker/provider").to_s

module PgsteerLab
  CTL = File.expand_path("../container.sh", __dir__)

  class Error < Vagrant::Errors::VagrantError
    def initialize(msg)
      @msg = msg
      super()
    end

    def error_message
      @msg
    end
  end

  # Run ../container.sh ARGS on the host, show what it says, return its standard output (the last
  # line of `image` is the tag).
  def self.ctl(env, *args, show_stdout: true)
    out, err, st = Open3.capture3(CTL, *args)
    raise Error, "vagrant/container.sh #{args.join(' ')} failed:\n#{out}#{err}" unless st.success?

    said = ((show_stdout ? out : "") + err).strip
    env[:ui].detail(said) unless said.empty?
    out
  end

  # Builds the image of the current recipe (if missing) and makes Create use it.
  class EnsureImage
    def initialize(app, _env)
      @app = app
    end

    def call(env)
      out = PgsteerLab.ctl(env, "image", show_stdout: false)
      env[:create_image] = out.strip.lines.last.to_s.strip
      @app.call(env)
    end
  end

  # Wires a started container's network namespace to the lab switch.
  class Wire
    def initialize(app, _env)
      @app = app
    end

    def call(env)
      @app.call(env)
      machine = env[:machine]
      return if machine.provider_name != :docker || machine.id.nil?

      PgsteerLab.ctl(env, "wire", machine.name.to_s, machine.id)
    end
  end

  # Releases a destroyed container's namespace name; the last one takes the switch with it.
  class Unwire
    def initialize(app, _env)
      @app = app
    end

    def call(env)
      machine = env[:machine]
      @app.call(env)
      return if machine.provider_name != :docker

      PgsteerLab.ctl(env, "unwire", machine.name.to_s)
    end
  end

  # `vagrant ssh [-c CMD]` on a docker_exec machine: `docker exec` a login shell (or CMD) as root.
  class ExecShell
    def initialize(app, _env)
      @app = app
    end

    def call(env)
      machine = env[:machine]
      return @app.call(env) unless PgsteerLab.docker_exec?(machine)

      tty = $stdin.tty? ? ["-t"] : []
      if env[:ssh_run_command]
        system("docker", "exec", "-i", *tty, machine.id, "bash", "-lc", env[:ssh_run_command])
        env[:ssh_run_exit_status] = $?.exitstatus
      else
        Kernel.exec("docker", "exec", "-i", *tty, machine.id, "bash", "-l")
      end
    end
  end

  def self.docker_exec?(machine)
    machine.provider_name == :docker && machine.config.vm.communicator == :docker_exec
  end

  # The shell provisioner asks for ssh_info (only its user name); a docker_exec machine has no sshd.
  module SshInfo
    def ssh_info
      return super unless PgsteerLab.docker_exec?(@machine)
      return nil if state.id != :running

      { host: @machine.name.to_s, port: 0, username: "root" }
    end
  end
  VagrantPlugins::DockerProvider::Provider.prepend(SshInfo)

  # `docker exec` as a communicator: the user is root, so sudo is execute.
  class DockerExec < Vagrant.plugin("2", :communicator)
    def self.match?(machine)
      machine.provider_name == :docker
    end

    def initialize(machine)
      @machine = machine
    end

    def ready?
      return false if @machine.id.nil?

      Vagrant::Util::Subprocess.execute("docker", "exec", @machine.id, "true").exit_code.zero?
    end

    def wait_for_ready(timeout)
      deadline = Time.now + timeout
      until ready?
        return false if Time.now > deadline

        sleep 0.5
      end
      true
    end

    def execute(command, opts = nil, &block)
      opts = { error_check: true, error_class: Vagrant::Errors::VagrantError,
               error_key: :ssh_bad_exit_status, good_exit: 0, command: command,
               shell: nil, sudo: false }.merge(opts || {})
      shell = opts[:shell] || "bash -l"
      r = Vagrant::Util::Subprocess.execute("docker", "exec", @machine.id, *shell.split, "-c", command,
                                            notify: %i[stdout stderr]) do |type, data|
        block&.call(type, data)
      end
      if opts[:error_check] && !Array(opts[:good_exit]).include?(r.exit_code)
        raise opts[:error_class], opts.merge(_key: opts[:error_key], stdout: r.stdout, stderr: r.stderr)
      end

      r.exit_code
    end

    def sudo(command, opts = nil, &block)
      execute(command, (opts || {}).merge(sudo: true), &block)
    end

    def test(command, opts = nil)
      execute(command, (opts || {}).merge(error_check: false)).zero?
    end

    def upload(from, to)
      dir = File.dirname(to)
      execute("mkdir -p '#{dir}'")
      r = Vagrant::Util::Subprocess.execute("docker", "cp", from, "#{@machine.id}:#{to}")
      raise Error, "docker cp #{from} #{@machine.name}:#{to} failed: #{r.stderr}" unless r.exit_code.zero?
    end

    def download(from, to)
      r = Vagrant::Util::Subprocess.execute("docker", "cp", "#{@machine.id}:#{from}", to)
      raise Error, "docker cp #{@machine.name}:#{from} #{to} failed: #{r.stderr}" unless r.exit_code.zero?
    end
  end

  class Plugin < Vagrant.plugin("2")
    name "pgsteer-lab"
    description "docker exec communicator and lab network wiring for pgsteer's container provider"

    communicator(:docker_exec) { DockerExec }

    action_hook(:pgsteer_lab) do |hook|
      hook.before(VagrantPlugins::DockerProvider::Action::Pull, EnsureImage)
      hook.after(VagrantPlugins::DockerProvider::Action::Start, Wire)
      hook.after(VagrantPlugins::DockerProvider::Action::Destroy, Unwire)
      hook.before(VagrantPlugins::DockerProvider::Action::PrepareSSH, ExecShell)
      hook.before(Vagrant::Action::Builtin::SSHRun, ExecShell)
    end
  end
end

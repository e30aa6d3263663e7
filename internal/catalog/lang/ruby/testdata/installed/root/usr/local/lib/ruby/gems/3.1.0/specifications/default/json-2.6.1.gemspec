# stub: json 2.6.1 ruby lib
# (default gem, only the stub line is reliable)
Gem::Specification.new do |s|
  s.summary = "JSON".freeze
end

Gem::Specification.new do |s|
  s.name = "rack"
  s.version = "2.0.6"
end

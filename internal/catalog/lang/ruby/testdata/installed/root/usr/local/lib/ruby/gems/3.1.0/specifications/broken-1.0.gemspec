Gem::Specification.new do |s|
  s.summary = "no name"
end
